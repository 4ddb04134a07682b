package docs_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestKubernetesGuideRuns runs docs/kubernetes.md's vault, nats and
// certrotator blocks in order: approle.sh against a Vault dev server,
// setup.sh at three replicas against a real three-server NATS cluster,
// validate on the shipped config with the files those steps leave, and
// kubernetes-auth.sh. The reader arrives with onboarding's files (the
// nkey seeds, the Graph client secrets, the cluster's CA).
func TestKubernetesGuideRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Vault and a NATS cluster")
	}
	s := newScenario(t)
	s.startVault()
	shippedConf(t, s)
	s.env["NATS_URL"] = s.startCluster(3)
	// Creating streams at three replicas on a machine shared by many test
	// binaries can take longer than the nats CLI's 5 s default; a reader's
	// cluster answers in milliseconds.
	s.env["NATS_TIMEOUT"] = "30s"
	for _, name := range []string{"graph-client-secret-global", "graph-client-secret-china"} {
		writeFile(t, filepath.Join(s.clone, name), []byte(recordedSecret+"\n"), 0o600)
	}
	ca := testkit.CA(t)
	writeFile(t, filepath.Join(s.clone, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644)

	s.follow("kubernetes.md", nil)
	if _, err := os.Stat(filepath.Join(s.clone, "nats.nk")); err != nil {
		t.Errorf("after step 4 the Secret's nats.nk is missing: %v", err)
	}
	s.finish()
}
