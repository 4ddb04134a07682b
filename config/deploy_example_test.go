package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestDeployExampleLoads keeps deploy/config.example.yaml, the file
// operators copy, valid as the config grows.
func TestDeployExampleLoads(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "config.example.yaml"))
	if err != nil {
		t.Fatalf("reading the deploy example: %v", err)
	}
	creds := t.TempDir()
	for _, f := range []string{"nats.creds", "nats.nk", "vault-secret-id", "graph-client-secret-global", "graph-client-secret-china"} {
		testkit.WriteFile(t, creds, f, "x\n")
	}
	env := map[string]string{"CREDENTIALS_DIRECTORY": creds, "VAULT_ADDR": "https://vault.example:8200", "VAULT_ROLE_ID": "role"}
	cfg, err := Parse(data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the deploy example does not load: %v", err)
	}
	if len(cfg.Jobs) == 0 || len(cfg.Tenants) == 0 {
		t.Errorf("the deploy example has %d jobs and %d tenants", len(cfg.Jobs), len(cfg.Tenants))
	}
}
