package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/certrotator/certrotator/internal/testkit"
)

// shippedConf writes what onboarding step 4 leaves in the clone: the three
// users' seeds and nats-permissions.conf with their public keys.
func shippedConf(t *testing.T, s *scenario) {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join(s.clone, "deploy", "nats", "nats-permissions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(conf)
	for _, u := range []string{"WORKER", "PUBLISHER", "SETUP"} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		seed, _ := kp.Seed()
		text = strings.ReplaceAll(text, "UREPLACE_WITH_THE_"+u+"_USER_PUBLIC_NKEY", pub)
		writeFile(t, filepath.Join(s.clone, "nats-"+strings.ToLower(u)+".nk"), append(seed, '\n'), 0o600)
	}
	writeFile(t, filepath.Join(s.clone, "nats-permissions.conf"), []byte(text), 0o600)
}

// natsWithShippedConf gives the scenario a real nats-server with the
// shipped permissions, setup.sh run, and the setup user as the reader's
// NATS identity (NATS_NKEY).
func natsWithShippedConf(t *testing.T, s *scenario) {
	t.Helper()
	shippedConf(t, s)
	s.startNATS(block{file: "harness", body: "listen: 0.0.0.0:4222\njetstream { store_dir: /x }\ninclude ./nats-permissions.conf\n"})
	s.env["NATS_NKEY"] = filepath.Join(s.clone, "nats-setup.nk")
	if out, err := s.run(block{file: "harness", body: "deploy/nats/setup.sh 1\n"}); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
}

// TestOperationsRuns runs docs/operations.md in order: backing up the
// three streams, removing and restoring them, deleting a removed
// connector's status entry, moving a portal certificate into Vault, and
// uninstalling (streams, buckets, Vault role and policy, the app).
func TestOperationsRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Vault and NATS")
	}
	s := newScenario(t)
	s.startVault()
	s.env["APP_ID"] = recordedApp
	natsWithShippedConf(t, s)
	if out, err := s.run(block{file: "harness", body: "deploy/vault/approle.sh\n"}); err != nil {
		t.Fatalf("approle.sh: %v\n%s", err, out)
	}
	// Something to back up: an outcome in the status bucket.
	if out, err := s.run(block{file: "harness", body: `nats kv put certrotation-status contoso-api.7b3a0c1e-aaaa-bbbb-cccc-000000000002 '{"job":"contoso-api"}'` + "\n"}); err != nil {
		t.Fatalf("seeding the status bucket: %v\n%s", err, out)
	}
	current := testkit.ValidFor(t, time.Now(), 60*24*time.Hour)
	writeFile(t, filepath.Join(s.clone, "current.pfx"), current.PFX, 0o600)
	writeFile(t, filepath.Join(s.clone, "current.password"), []byte(current.Password), 0o600)

	s.follow("operations.md", nil)

	// Uninstalled: nothing of certrotator's is left in NATS or Vault.
	out, err := s.run(block{file: "harness", body: "nats stream ls --names; vault policy list; vault list auth/approle/role || true\n"})
	if err != nil {
		t.Fatalf("listing what is left: %v\n%s", err, out)
	}
	for _, left := range []string{"CERTROTATION_", "KV_certrotation", "certrotator\n"} {
		if strings.Contains(out, left) {
			t.Errorf("after uninstalling, %q is left:\n%s", left, out)
		}
	}
	s.finish()
}

// TestPKIRecipeRuns runs docs/pki.md against a Vault dev server: the mount,
// the role and an issue with the role's settings.
func TestPKIRecipeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Vault")
	}
	s := newScenario(t)
	s.startVault()
	s.follow("pki.md", nil)
	// The role refuses a name outside allowed_domains and a server certificate's use.
	out, err := s.run(block{file: "harness", body: "vault write pki/issue/b2c-api common_name=evil.example.org 2>&1 || echo refused\n"})
	if err != nil || !strings.Contains(out, "refused") {
		t.Errorf("the role issued for a name outside allowed_domains: %v\n%s", err, out)
	}
	out, err = s.run(block{file: "harness", body: "for f in client_flag server_flag no_store; do vault read -field=$f pki/roles/b2c-api; echo; done\n"})
	if got := strings.Fields(out); err != nil || fmt.Sprint(got) != "[true false false]" {
		t.Errorf("role flags client, server, no_store = %v (error %v); want true false false", got, err)
	}
	s.finish()
}
