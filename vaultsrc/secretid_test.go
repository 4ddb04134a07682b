package vaultsrc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// testSecretIDExpiry looks up the AppRole secret id against the dev server:
// its expiry under a policy that allows the lookup, none for a secret id
// without TTL, a denial that names the path to grant, and nothing to look
// up for a token.
func testSecretIDExpiry(t *testing.T, srv *vaulttest.Server) {
	grantLookup := func(t *testing.T, mount string) {
		t.Helper()
		policy := `path "secret/data/b2c/*" { capabilities = ["read"] }
path "` + SecretIDLookupPath(mount, "certrotator") + `" { capabilities = ["update"] }`
		if err := srv.Client(t).Sys().PutPolicyWithContext(testContext(t), mount+"-read", policy); err != nil {
			t.Fatalf("writing policy: %v", err)
		}
	}

	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		// Under the dev server's max lease TTL (768h), which also caps secret_id_ttl.
		roleID, file, _ := appRole(t, srv, "approle-sid-ttl", map[string]any{"secret_id_ttl": "240h"})
		created := time.Now()
		grantLookup(t, "approle-sid-ttl")
		c, _, err := appRoleClient(t, srv, "approle-sid-ttl", roleID, file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.SecretIDExpiry(testContext(t))
		if err != nil {
			t.Fatalf("SecretIDExpiry: %v", err)
		}
		want := created.Add(240 * time.Hour)
		if d := got.Sub(want); d < -time.Minute || d > time.Minute {
			t.Errorf("SecretIDExpiry = %v, want about %v (10 days after it was issued)", got, want)
		}
	})

	t.Run("shipped policy", func(t *testing.T) {
		t.Parallel()
		// deploy/vault/approle.sh's role and mount, bound to the shipped policy alone.
		roleID, file, _ := appRole(t, srv, "approle", map[string]any{"secret_id_ttl": "2160h", "token_no_default_policy": true})
		hcl, err := os.ReadFile(filepath.Join("..", "deploy", "vault", "policy.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Client(t).Sys().PutPolicyWithContext(testContext(t), "approle-read", string(hcl)); err != nil {
			t.Fatalf("writing the shipped policy: %v", err)
		}
		c, _, err := appRoleClient(t, srv, "approle", roleID, file)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.SecretIDExpiry(testContext(t)); err != nil || got.IsZero() {
			t.Errorf("SecretIDExpiry under deploy/vault/policy.hcl = %v, %v; want the secret id's end", got, err)
		}
	})

	t.Run("no ttl", func(t *testing.T) {
		t.Parallel()
		roleID, file, _ := appRole(t, srv, "approle-sid-none", nil)
		grantLookup(t, "approle-sid-none")
		c, _, err := appRoleClient(t, srv, "approle-sid-none", roleID, file)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.SecretIDExpiry(testContext(t)); err != nil || !got.IsZero() {
			t.Errorf("SecretIDExpiry = %v, %v; want the zero time (never expires)", got, err)
		}
	})

	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		roleID, file, secretID := appRole(t, srv, "approle-sid-denied", map[string]any{"secret_id_ttl": "24h"})
		c, _, err := appRoleClient(t, srv, "approle-sid-denied", roleID, file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SecretIDExpiry(testContext(t))
		if f := jobs.AsFailure(err); f == nil || f.Code != CodeDenied {
			t.Fatalf("SecretIDExpiry without the grant = %v, want %s", err, CodeDenied)
		}
		path := SecretIDLookupPath("approle-sid-denied", "certrotator")
		if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), secretID) {
			t.Errorf("error %q: want the path to grant, never the secret id", err)
		}
	})

	t.Run("token", func(t *testing.T) {
		t.Parallel()
		c, _ := tokenClient(t, srv, srv.Token)
		if _, err := c.SecretIDExpiry(testContext(t)); !errors.Is(err, ErrNoSecretID) {
			t.Errorf("SecretIDExpiry with a token = %v, want ErrNoSecretID", err)
		}
	})
}
