package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/worker"
)

// TestDoctorCredentials: doctor shows the worker's own credentials' end
// dates, read as the worker reads them: a client secret with
// client_secret_expires 10 days away warns, a client certificate file good
// for a year is ok.
func TestDoctorCredentials(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	now := time.Now()
	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}})
	cfgText := readFileT(t, path)
	secretEnds := now.Add(10 * 24 * time.Hour).UTC().Format(time.DateOnly)
	app := testkit.NewBundle(t, testkit.BundleSpec{NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), Password: "app-pw", Key: testkit.RSAKey(t, 2048)})
	cert := testkit.WriteFile(t, t.TempDir(), "app.pfx", string(app.PFX))
	cfgText = strings.Replace(cfgText, "    client_secret_file:", "    client_secret_expires: "+secretEnds+"\n    client_secret_file:", 1)
	cfgText = strings.Replace(cfgText, "jobs:\n", `  certtenant:
    tenant_id: 00000000-0000-4000-8000-0000000000c7
    client_id: 11111111-1111-4111-8111-1111111111c7
    client_certificate_file: `+cert+`
    client_certificate_password: app-pw
jobs:
`, 1)
	path = testkit.WriteFile(t, t.TempDir(), "config.yaml", cfgText)

	_, ff, errOut := doctorLines(t, "-c", path)
	f, ok := find(ff, "creds", "client secret of tenant contoso")
	if !ok || f.Verdict != verdictWarn || !strings.Contains(f.Detail, secretEnds) || !strings.Contains(f.Fix, "client_secret_expires") {
		t.Errorf("client secret ending in 10 days: %+v (found %v), want a warning with its date\nstderr %s\n%s", f, ok, errOut, dump(ff))
	}
	f, ok = find(ff, "creds", "client certificate of tenant certtenant")
	if !ok || f.Verdict != verdictOK || !strings.Contains(f.Detail, "expires "+app.NotAfter.UTC().Format(time.DateOnly)) {
		t.Errorf("client certificate good for a year: %+v (found %v), want ok with its date\n%s", f, ok, dump(ff))
	}
	for _, x := range ff {
		if strings.Contains(x.Detail+x.Fix, "app-pw") || strings.Contains(x.Detail+x.Fix, testSecret) {
			t.Errorf("a finding holds a secret: %+v", x)
		}
	}
}

// TestCredentialFinding judges an end date: expired fails, within 30 days
// or unreadable warns, never or later is ok.
func TestCredentialFinding(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	sid := worker.Credential{Kind: worker.CredentialVaultSecretID}
	for _, tt := range []struct {
		name    string
		at      time.Time
		err     error
		verdict string
	}{
		{"expired", now.Add(-time.Hour), nil, verdictFail},
		{"in 20 days", now.Add(20 * 24 * time.Hour), nil, verdictWarn},
		{"in 60 days", now.Add(60 * 24 * time.Hour), nil, verdictOK},
		{"never", time.Time{}, nil, verdictOK},
		{"unreadable", time.Time{}, errors.New("permission denied"), verdictWarn},
	} {
		if f := credentialFinding(sid, tt.at, tt.err, now); f.Verdict != tt.verdict || f.Area != "creds" {
			t.Errorf("%s: %+v, want %s", tt.name, f, tt.verdict)
		}
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDoctorAppRoleSecretID: with AppRole auth, doctor looks the secret id
// up as the worker does (under a policy granting the lookup, as
// deploy/vault/policy.hcl does) and warns when it ends within 30 days.
func TestDoctorAppRoleSecretID(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	ctx := t.Context()
	root := s.vault.Client(t)
	if err := root.Sys().EnableAuthWithOptionsWithContext(ctx, "approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("enabling approle: %v", err)
	}
	policy := doctorPolicy + `path "auth/approle/role/certrotator/secret-id/lookup" { capabilities = ["update"] }` + "\n"
	if err := root.Sys().PutPolicyWithContext(ctx, "certrotator-approle", policy); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "auth/approle/role/certrotator", map[string]any{
		"token_policies": "certrotator-approle", "token_no_default_policy": true, "secret_id_ttl": "240h"}); err != nil {
		t.Fatal(err)
	}
	rid, err := root.Logical().ReadWithContext(ctx, "auth/approle/role/certrotator/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := root.Logical().WriteWithContext(ctx, "auth/approle/role/certrotator/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	secretID, _ := sid.Data["secret_id"].(string)
	dir := t.TempDir()
	sidFile := testkit.WriteFile(t, dir, "secret-id", secretID+"\n")
	cfgText := readFileT(t, s.config(t, doctorCase{token: s.token, conns: []string{s.conn}}))
	start := strings.Index(cfgText, "  auth: {")
	end := start + strings.Index(cfgText[start:], "\n")
	cfgText = cfgText[:start] + fmt.Sprintf("  auth: {method: approle, role_id: %s, secret_id_file: %s}", rid.Data["role_id"], sidFile) + cfgText[end:]
	path := testkit.WriteFile(t, dir, "config.yaml", cfgText)

	_, ff, errOut := doctorLines(t, "-c", path)
	f, ok := find(ff, "creds", "vault AppRole secret id")
	ends := time.Now().Add(240 * time.Hour).UTC().Format(time.DateOnly)
	if !ok || f.Verdict != verdictWarn || !strings.Contains(f.Detail, "expires "+ends) || !strings.Contains(f.Fix, "secret id") {
		t.Errorf("secret id ending in 10 days: %+v (found %v), want a warning with its date\nstderr %s\n%s", f, ok, errOut, dump(ff))
	}
	for _, x := range ff {
		if strings.Contains(x.Detail+x.Fix+x.Check, secretID) {
			t.Errorf("a finding holds the secret id: %+v", x)
		}
	}
}
