package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// testPFX makes a self-signed LegacyDES bundle valid from notBefore to
// notAfter ("" for a bundle encrypted with the empty password).
func testPFX(t *testing.T, notBefore, notAfter time.Time, password string) []byte {
	t.Helper()
	return testkit.NewBundle(t, testkit.BundleSpec{
		CN: "cli.example", NotBefore: notBefore, NotAfter: notAfter, SelfSigned: true,
		Password: password, EmptyPassword: password == "",
	}).PFX
}

// vaultHolding starts a dev Vault holding, at secret/<path>, a bundle valid
// from an hour ago for three months with the password "pw".
func vaultHolding(t *testing.T, path string) *vaulttest.Server {
	t.Helper()
	v := vaulttest.Start(t)
	now := time.Now()
	v.PutBundle(t, "secret", path, testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw"), "pw")
	return v
}

func TestInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	good := testkit.WriteFile(t, dir, "good.pfx", string(testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw")))
	staged := testkit.WriteFile(t, dir, "staged.pfx", string(testPFX(t, now.Add(48*time.Hour), now.AddDate(0, 3, 0), "")))
	short := testkit.WriteFile(t, dir, "short.pfx", string(testPFX(t, now.Add(-time.Hour), now.Add(72*time.Hour), "pw")))
	pwFile := testkit.WriteFile(t, dir, "pw.txt", "pw\n")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		verdict string
		problem string
	}{
		{"ok with env password", map[string]string{"PW": "pw"}, []string{good, "--password-env", "PW"}, exitOK, "ok", ""},
		{"ok with password file", nil, []string{good, "--password-file", pwFile}, exitOK, "ok", ""},
		{"wrong password", map[string]string{"PW": "nope"}, []string{good, "--password-env", "PW"}, exitFailed, "reject", "bundle_password"},
		{"empty env means no password", map[string]string{"PW": ""}, []string{staged, "--password-env", "PW"}, exitOK, "staged", ""},
		{"short validity", nil, []string{short, "--password-file", pwFile}, exitFailed, "reject", "bundle_short_validity"},
		{"short validity allowed", nil, []string{short, "--password-file", pwFile, "--min-validity", "24h"}, exitOK, "ok", ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.env, append([]string{"inspect"}, tt.args...)...)
		var r struct {
			Thumbprint string                  `json:"thumbprint"`
			Key        string                  `json:"key"`
			Verdict    string                  `json:"verdict"`
			Problems   []struct{ Code string } `json:"problems"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: output %q (stderr %q) is not one JSON object: %v", tt.name, out, errOut, err)
		}
		if code != tt.code || r.Verdict != tt.verdict {
			t.Errorf("%s: exit %d verdict %s, want %d %s", tt.name, code, r.Verdict, tt.code, tt.verdict)
		}
		if tt.problem != "" && (len(r.Problems) == 0 || r.Problems[0].Code != tt.problem) {
			t.Errorf("%s: problems %+v, want %s", tt.name, r.Problems, tt.problem)
		}
		if tt.verdict != "reject" && (len(r.Thumbprint) != 40 || r.Key != "ec-p256") {
			t.Errorf("%s: thumbprint %q key %q", tt.name, r.Thumbprint, r.Key)
		}
	}
	if code, _, errOut := runCLI(t, nil, "inspect", good, "--password-env", "UNSET"); code != exitUsage || !strings.Contains(errOut, "not set") {
		t.Errorf("unset --password-env: exit %d stderr %q", code, errOut)
	}
	// A file holding the base64 of a .pfx (what the Vault field holds) is
	// encoded once, not twice, and the answer says how to decode it.
	once := testkit.WriteFile(t, dir, "good.b64", base64.StdEncoding.EncodeToString(testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw")))
	code, out, _ := runCLI(t, map[string]string{"PW": "pw"}, "inspect", once, "--password-env", "PW")
	if code != exitFailed || !strings.Contains(out, "base64 -d") || strings.Contains(out, "twice") {
		t.Errorf("base64 file: exit %d output %q, want a rejection saying to decode it once", code, out)
	}
}

// cliConfig writes a config whose job "cli-job" binds the given connectors to
// secret/<path> in the Vault at v, with Graph at the shared emulator.
func cliConfig(t *testing.T, v *vaulttest.Server, path string, conns ...string) string {
	t.Helper()
	dir := t.TempDir()
	token := testkit.WriteFile(t, dir, "token", v.Token)
	sec := testkit.WriteFile(t, dir, "secret", testSecret)
	return testkit.WriteFile(t, dir, "config.yaml", contosoConfigHead("cli-test", v.Addr, token, sec)+fmt.Sprintf(`jobs:
  - name: cli-job
    source: {path: %s}
    connectors:
%shttp: {listen: "off"}
`, path, connectorLines("contoso", conns...)))
}

// contosoConfigHead is how the CLI tests' config files start: the
// instance, Vault with a token file, and the contoso tenant on the Graph
// emulator with a secret file.
func contosoConfigHead(instance, vaultAddr, tokenFile, secretFile string) string {
	return fmt.Sprintf(`instance: %s
vault:
  address: %s
  auth: {method: token, token_file: %s}
tenants:
  contoso:
    tenant_id: %s
    client_id: %s
    client_secret_file: %s
    authority_url: %s
    graph_url: %s
`, instance, vaultAddr, tokenFile, testTenantID, testClientID, secretFile, graph.URL(), graph.URL())
}

// connectorLines lists connector ids of tenant as a job's connectors.
func connectorLines(tenant string, ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "      - {tenant: %s, id: %s}\n", tenant, id)
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	t.Parallel()
	v := &vaulttest.Server{Addr: "http://127.0.0.1:1", Token: "unused"}
	good := cliConfig(t, v, "b2c/x", freshConn(t))
	code, out, errOut := runCLI(t, nil, "validate", "-c", good)
	if code != exitOK || !strings.Contains(out, "cli-job") {
		t.Errorf("valid config: exit %d out %q err %q", code, out, errOut)
	}
	bad := testkit.WriteFile(t, t.TempDir(), "bad.yaml", "jobs:\n  - name: bad name\n    renew_before: 3O%\n    sorce: {}\n")
	code, _, errOut = runCLI(t, nil, "validate", "-c", bad)
	if code != exitUsage {
		t.Errorf("invalid config: exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"line 2", "jobs[0].name", "line 3", "jobs[0].renew_before", "line 4", "jobs[0].sorce"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut)
		}
	}
}
