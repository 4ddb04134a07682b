package docs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestMain lets the test binary stand in for az (see azShim) when a guide
// calls it through the symlink newScenario puts on PATH.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "az" {
		os.Exit(azShim(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The recorded az answers (testdata/az-shape.json) that the emulator must
// agree with.
const (
	recordedTenant = "9f4c1d2e-0000-4000-8000-00000000b2c0"
	recordedApp    = "11111111-1111-1111-1111-111111111111"
	recordedSecret = "Xq8Q~docs-test-client-secret.not-a-real-one"
	// docsConnector is the connector id the guide's config names.
	docsConnector = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
)

// TestOnboardingRuns follows docs/onboarding.md from a fresh clone on this
// machine: the az steps against their recorded shape, the token curl
// against the Graph emulator (reached as login.microsoftonline.com and
// graph.microsoft.com through curl's connect-to, as DNS would), Vault's
// steps against a dev server, NATS's against a real nats-server with the
// shipped permissions, then validate, a doctor with no warning, the worker,
// and a publisher's `rotate --wait` that must succeed. Done when the
// emulated connector holds the bundle written in step 3 as its active
// certificate.
func TestOnboardingRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole onboarding guide (about a minute)")
	}
	s := newScenario(t)
	s.startVault()

	// The connector holds a certificate uploaded in the portal, 20 days
	// from expiry, as a connector moving to certrotator does.
	now := time.Now()
	held := graphsim.Cert{Thumbprint: strings.Repeat("AB", 20), NotBefore: now.Add(-345 * 24 * time.Hour), NotAfter: now.Add(20 * 24 * time.Hour)}
	g := graphsim.NewTest(t).AddTenant(recordedTenant, recordedApp, recordedSecret).
		AddConnector(recordedTenant, docsConnector, "contoso-api", held).Start()
	ca := filepath.Join(s.home, "graphsim-ca.pem")
	writeFile(t, ca, g.CACertPEM(), 0o644)
	hostPort := strings.TrimPrefix(g.URL(), "https://")
	writeFile(t, filepath.Join(s.home, ".curlrc"), []byte(strings.Join([]string{
		`connect-to = "login.microsoftonline.com:443:` + hostPort + `"`,
		`connect-to = "graph.microsoft.com:443:` + hostPort + `"`,
		"insecure", // the emulator's certificate names 127.0.0.1, not Microsoft's hosts
		""}, "\n")), 0o600)

	// What the reader brings: the bundle of step 3 and its password.
	bundle := testkit.ValidFor(t, time.Now(), 90*24*time.Hour)
	writeFile(t, filepath.Join(s.clone, "bundle.pfx"), bundle.PFX, 0o600)
	writeFile(t, filepath.Join(s.clone, "bundle.password"), []byte(bundle.Password), 0o600)

	var worker *testkit.LogBuffer
	s.follow("onboarding.md", func(b block) {
		switch b.kind {
		case "background":
			worker = s.background(b)
		case "nats-server":
			s.startNATS(b)
		case "config":
			s.writeConfig(b, g.URL(), ca)
		case "run-operator", "nats-server-operator":
			// Mode 2 of step 4: TestOnboardingOperatorMode.
		default:
			t.Fatalf("%s: unknown marker %q", b.where(), b.kind)
		}
	})
	if worker == nil {
		t.Fatal("the guide never starts the worker")
	}
	// The runbook's commands, against the deployment the guide built.
	s.follow("runbook.md", nil)
	var active bool
	for _, c := range g.Certificates(recordedTenant, docsConnector) {
		active = active || (c.Thumbprint == bundle.Thumbprint && c.IsActive)
	}
	if !active {
		t.Errorf("after the guide, connector %s does not hold the bundle %s as active: %+v", docsConnector, bundle.Thumbprint, g.Certificates(recordedTenant, docsConnector))
	}
	s.finish()
}

// afterBlock checks what a block must have achieved, beyond exiting 0.
func (s *scenario) afterBlock(b block, out string) {
	t := s.t
	t.Helper()
	body := b.body
	switch {
	case strings.Contains(body, "deploy/vault/approle.sh"):
		// Issue 16 item 4: the script wrote its files into deploy/vault/.
		if _, err := os.Stat(filepath.Join(s.clone, "vault-secret-id")); err != nil {
			if _, err2 := os.Stat(filepath.Join(s.clone, "deploy", "vault", "vault-secret-id")); err2 == nil {
				s.note("%s: approle.sh wrote vault-role-id and vault-secret-id into deploy/vault/, not the current directory (issue 16 item 4); moved them to go on", b.where())
				for _, f := range []string{"vault-role-id", "vault-secret-id"} {
					if err := os.Rename(filepath.Join(s.clone, "deploy", "vault", f), filepath.Join(s.clone, f)); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				t.Fatalf("%s: no vault-secret-id after approle.sh", b.where())
			}
		}
	case strings.Contains(body, "nats backup restore"):
		// The restored status bucket holds what was backed up.
		got, err := s.run(block{file: "harness", body: "nats kv get --raw certrotation-status contoso-api.7b3a0c1e-aaaa-bbbb-cccc-000000000002\n"})
		if err != nil || !strings.Contains(got, `"job":"contoso-api"`) {
			t.Errorf("%s: after the restore the status entry is %q (error %v)", b.where(), got, err)
		}
	case strings.Contains(body, "curl") && strings.Contains(body, "apiConnectors"):
		if !strings.Contains(out, docsConnector+"  contoso-api") {
			t.Errorf("%s: the connector list lacks %s; output:\n%s", b.where(), docsConnector, out)
		}
	case strings.Contains(body, "certrotator doctor"):
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "warn") {
				continue
			}
			if strings.Contains(line, "capabilities-self") {
				s.note("%s: doctor warns %q: the shipped policy lacks sys/capabilities-self (issue 16 item 5, H3's policy split)", b.where(), strings.TrimSpace(line))
				continue
			}
			t.Errorf("%s: doctor warns: %s\n%s", b.where(), line, out)
		}
	case strings.Contains(body, "rotate -c publisher.yaml"):
		if !strings.Contains(out, "succeeded") && !strings.Contains(out, "skipped") {
			t.Errorf("%s: rotate --wait printed no outcome:\n%s", b.where(), out)
		}
	}
}

// writeConfig writes a guide's config block into the clone. The only
// change is for the emulator: each tenant's token and Graph endpoints
// point at graphsim (what DNS does for a real tenant), and the status
// port is off so that parallel tests do not share 9090.
func (s *scenario) writeConfig(b block, graphURL, ca string) {
	t := s.t
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(b.body), &doc); err != nil {
		t.Fatalf("%s: not YAML: %v", b.where(), err)
	}
	if tenants, ok := doc["tenants"].(map[string]any); ok {
		for _, v := range tenants {
			tn := v.(map[string]any)
			tn["authority_url"], tn["graph_url"], tn["ca_file"] = graphURL, graphURL, ca
		}
	}
	if _, ok := doc["http"]; ok {
		doc["http"] = map[string]any{"listen": "off"}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Fields(b.arg)[0]
	writeFile(t, filepath.Join(s.clone, name), out, 0o600)
	// The block itself must be a config the decoder knows, keys and all.
	if _, err := config.Parse([]byte(b.body), func(k string) (string, bool) { return "x", true }); err != nil && strings.Contains(err.Error(), "unknown key") {
		t.Errorf("%s: %v", b.where(), err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
