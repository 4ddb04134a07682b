package vaultsrc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/hashicorp/vault/api"
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

// testTokenFileRenewalLoop lets a token reach its max TTL while the client
// runs: the renewal loop must pick up the new token Vault Agent wrote to the
// file by itself, before any request is refused.
func testTokenFileRenewalLoop(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/agent-loop", testPFX, "")
	srv.TokenWithPolicy(t, "agent-loop", `path "secret/data/b2c/agent-loop" { capabilities = ["read"] }`)
	ctx := testContext(t)
	root := srv.Client(t).Auth().Token()
	short, err := root.CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"agent-loop"}, TTL: "3s", ExplicitMaxTTL: "3s"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "vault-token")
	writeFile(t, file, short.Auth.ClientToken)
	logger, logs := testLogger(t)
	c, err := New(ctx, Config{Address: srv.Addr, Auth: Auth{TokenFile: file}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, c)
	c.tokenFilePoll = 50 * time.Millisecond
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, "vault token renewal started")
	next, err := root.CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"agent-loop"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, next.Auth.ClientToken+"\n")
	waitForLog(t, logs, "vault token reloaded from file")
	if c.api.Token() != next.Auth.ClientToken {
		t.Errorf("the client does not hold the new token")
	}
	if _, err := c.Fetch(ctx, ref("b2c/agent-loop")); err != nil {
		t.Fatalf("Fetch with the new token: %v", err)
	}
}

// waitForLog polls the logs (bounded) until they hold msg.
func waitForLog(t *testing.T, logs *logBuffer, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !strings.Contains(logs.String(), msg) {
		select {
		case <-ctx.Done():
			t.Fatalf("no %q in the logs:\n%s", msg, logs.String())
		case <-tick.C:
		}
	}
}
