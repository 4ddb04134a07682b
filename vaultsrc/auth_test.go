package vaultsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/hashicorp/vault/api"
)

// pollEvery paces the bounded polls of Vault state below.
const pollEvery = 200 * time.Millisecond

// appRole enables AppRole at mount, creates role "certrotator" that may read
// secret/data/b2c/*, with extra role settings, and returns its role id and
// the path of a file holding a fresh secret id (with a trailing newline, as
// `echo` writes it) and the secret id itself.
func appRole(t *testing.T, srv *vaulttest.Server, mount string, settings map[string]any) (roleID, secretIDFile, secretID string) {
	t.Helper()
	ctx := testContext(t)
	root := srv.Client(t)
	if err := root.Sys().EnableAuthWithOptionsWithContext(ctx, mount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("enabling approle: %v", err)
	}
	if err := root.Sys().PutPolicyWithContext(ctx, mount+"-read", `path "secret/data/b2c/*" { capabilities = ["read"] }`); err != nil {
		t.Fatalf("writing policy: %v", err)
	}
	role := map[string]any{"token_policies": mount + "-read"}
	for k, v := range settings {
		role[k] = v
	}
	base := "auth/" + mount + "/role/certrotator"
	if _, err := root.Logical().WriteWithContext(ctx, base, role); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	s, err := root.Logical().ReadWithContext(ctx, base+"/role-id")
	if err != nil || s == nil {
		t.Fatalf("reading role id: %v", err)
	}
	roleID, _ = s.Data["role_id"].(string)
	s, err = root.Logical().WriteWithContext(ctx, base+"/secret-id", nil)
	if err != nil || s == nil {
		t.Fatalf("creating secret id: %v", err)
	}
	secretID, _ = s.Data["secret_id"].(string)
	secretIDFile = filepath.Join(t.TempDir(), "secret-id")
	writeFile(t, secretIDFile, secretID+"\n")
	return roleID, secretIDFile, secretID
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// appRoleClient logs in with AppRole at mount; t's cleanup stops it.
func appRoleClient(t *testing.T, srv *vaulttest.Server, mount, roleID, secretIDFile string) (*Client, *logBuffer, error) {
	t.Helper()
	logger, logs := testLogger(t)
	c, err := New(testContext(t), Config{
		Address: srv.Addr,
		Logger:  logger,
		Auth:    Auth{Method: MethodAppRole, RoleID: roleID, SecretIDFile: secretIDFile, MountPath: mount},
	})
	if err == nil {
		stopOnCleanup(t, c)
	}
	return c, logs, err
}

func testAppRole(t *testing.T, srv *vaulttest.Server) {
	version := srv.PutBundle(t, "secret", "b2c/approle", testPFX, "pw")
	roleID, file, secretID := appRole(t, srv, "approle-read", nil)
	c, logs, err := appRoleClient(t, srv, "approle-read", roleID, file)
	if err != nil {
		t.Fatalf("New with approle: %v", err)
	}
	m, err := c.Fetch(testContext(t), ref("b2c/approle"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if m.Version != version || m.Password != "pw" {
		t.Errorf("got version %d, want %d and the password", m.Version, version)
	}
	if l := logs.String(); !strings.Contains(l, "vault login") || strings.Contains(l, secretID) || strings.Contains(l, c.api.Token()) {
		t.Errorf("logs should record the login and hold no secret:\n%s", l)
	}
}

func testAppRoleRefused(t *testing.T, srv *vaulttest.Server) {
	roleID, file, _ := appRole(t, srv, "approle-refused", nil)
	writeFile(t, file, "00000000-0000-0000-0000-000000000000\n")
	_, _, err := appRoleClient(t, srv, "approle-refused", roleID, file)
	wantFailure(t, err, jobs.ClassPermanent, CodeDenied,
		[]string{"logging in to vault with approle at auth/approle-refused/login", "invalid role or secret ID"},
		"00000000-0000-0000-0000-000000000000")
}

// testAppRoleReLogin checks that a client logs in again once its token
// reaches its max TTL and can still read afterwards.
func testAppRoleReLogin(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/relogin", testPFX, "")
	roleID, file, _ := appRole(t, srv, "approle-relogin", map[string]any{"token_ttl": "2s", "token_max_ttl": "3s"})
	c, logs, err := appRoleClient(t, srv, "approle-relogin", roleID, file)
	if err != nil {
		t.Fatalf("New with approle: %v", err)
	}
	ctx := testContext(t)
	first := c.api.Token()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for c.api.Token() == first {
		select {
		case <-ctx.Done():
			t.Fatalf("no new login before the deadline; logs:\n%s", logs.String())
		case <-tick.C:
		}
	}
	if _, err := c.Fetch(ctx, ref("b2c/relogin")); err != nil {
		t.Fatalf("Fetch after re-login: %v", err)
	}
	if n := strings.Count(logs.String(), "vault login"); n < 2 {
		t.Errorf("logged %d logins, want at least 2", n)
	}
}

// testTokenRenewal checks that a renewable token with a 3s period outlives
// three periods while Start runs.
func testTokenRenewal(t *testing.T, srv *vaulttest.Server) {
	const period = 3 * time.Second
	srv.PutBundle(t, "secret", "b2c/renew", testPFX, "")
	srv.TokenWithPolicy(t, "read-renew", `path "secret/data/b2c/renew" { capabilities = ["read"] }`)
	ctx := testContext(t)
	root := srv.Client(t)
	s, err := root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
		Policies: []string{"read-renew"}, Period: period.String(),
	})
	if err != nil {
		t.Fatalf("creating token: %v", err)
	}
	token, created := s.Auth.ClientToken, time.Now()
	c, logs := tokenClient(t, srv, token)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Bounded poll of an external system: the token must stay valid
	// throughout three periods, which it cannot without renewal.
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for time.Since(created) < 3*period {
		if _, err := root.Auth().Token().LookupWithContext(ctx, token); err != nil {
			t.Fatalf("token invalid %s after creation: %v; logs:\n%s", time.Since(created), err, logs.String())
		}
		select {
		case <-ctx.Done():
			t.Fatal("deadline passed")
		case <-tick.C:
		}
	}
	if _, err := c.Fetch(ctx, ref("b2c/renew")); err != nil {
		t.Fatalf("Fetch after three periods: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "vault token renewed") || strings.Contains(l, token) {
		t.Errorf("logs should record renewals and hold no token:\n%s", l)
	}
}
