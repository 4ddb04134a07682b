package vaultsrc

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// testTokenFileRotated plays Vault Agent: it writes a new token to the
// file and revokes the old one; the next read must succeed with the new one.
func testTokenFileRotated(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/agent", testPFX, "")
	policy := `path "secret/data/b2c/agent" { capabilities = ["read"] }`
	oldToken := srv.TokenWithPolicy(t, "agent-read", policy)
	file := filepath.Join(t.TempDir(), "vault-token")
	writeFile(t, file, oldToken+"\n")
	logger, logs := testLogger(t)
	ctx := testContext(t)
	c, err := New(ctx, Config{Address: srv.Addr, Auth: Auth{TokenFile: file}, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stopOnCleanup(t, c)
	if _, err := c.Fetch(ctx, ref("b2c/agent")); err != nil {
		t.Fatalf("Fetch with the first token: %v", err)
	}
	newToken := srv.TokenWithPolicy(t, "agent-read", policy)
	writeFile(t, file, newToken+"\n")
	if err := srv.Client(t).Auth().Token().RevokeTreeWithContext(ctx, oldToken); err != nil {
		t.Fatalf("revoking the old token: %v", err)
	}
	if _, err := c.Fetch(ctx, ref("b2c/agent")); err != nil {
		t.Fatalf("Fetch after the token file was rotated: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "vault token reloaded from file") || strings.Contains(l, newToken) || strings.Contains(l, oldToken) {
		t.Errorf("logs should say the token was reloaded and hold no token:\n%s", l)
	}
	// A revoked token in the file stays a permanent denial, without a loop.
	if err := srv.Client(t).Auth().Token().RevokeTreeWithContext(ctx, newToken); err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(ctx, ref("b2c/agent"))
	wantFailure(t, err, jobs.ClassPermanent, CodeDenied, []string{"403"}, newToken)
}
