package vaultsrc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty token", Config{}, "needs a token"},
		{"unknown method", Config{Auth: Auth{Method: "ldap"}}, `unknown auth method "ldap"`},
		{"approle without role id", Config{Auth: Auth{Method: MethodAppRole, SecretIDFile: "x"}}, "needs a role_id"},
		{"kubernetes without role", Config{Auth: Auth{Method: MethodKubernetes}}, "needs a role"},
		{"missing CA file", Config{CACert: filepath.Join(t.TempDir(), "ca.pem"), Auth: Auth{Token: "t"}}, "ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(testContext(t), tt.cfg)
			if c != nil {
				t.Errorf("got a client despite the error")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			wantFailure(t, err, jobs.ClassPermanent, CodeConfig, []string{tt.want})
		})
	}
}

// The Kubernetes login itself needs a cluster whose token reviewer Vault
// can call, so it is not tested; only the reading of the JWT file is.
func TestNewKubernetesJWTFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "token")
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, " \n")
	for name, path := range map[string]string{"missing": missing, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The address is closed: the login must fail before any request.
			_, err := New(testContext(t), Config{
				Address: "http://127.0.0.1:1",
				Auth:    Auth{Method: MethodKubernetes, Role: "certrotator", JWTFile: path},
			})
			wantFailure(t, err, jobs.ClassPermanent, CodeConfig,
				[]string{"logging in to vault with kubernetes at auth/kubernetes/login", "service account token file", path})
		})
	}
}

func TestAuthDefaults(t *testing.T) {
	t.Parallel()
	a, err := authWithDefaults(Auth{Method: MethodKubernetes, Role: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if a.JWTFile != JWTFileDefault || a.MountPath != "kubernetes" {
		t.Errorf("got JWTFile %q MountPath %q, want the defaults", a.JWTFile, a.MountPath)
	}
	a, err = authWithDefaults(Auth{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Method != MethodToken {
		t.Errorf("got method %q, want token", a.Method)
	}
}

func TestStartStopLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// Stop before Start, twice: both fine, and Start is then refused.
	c, err := New(ctx, Config{Address: "http://127.0.0.1:1", Auth: Auth{Token: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Stop(ctx); err != nil {
			t.Fatalf("Stop before Start: %v", err)
		}
	}
	if err := c.Start(ctx); err == nil {
		t.Errorf("Start after Stop succeeded")
	}

	// Start, a second Start, then Stop twice. The address is closed, so the
	// loop is pausing between lookups when Stop ends it.
	c, err = New(ctx, Config{Address: "http://127.0.0.1:1", Auth: Auth{Token: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err == nil {
		t.Errorf("second Start succeeded")
	}
	for range 2 {
		if err := c.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		base float64
	}{{1, 1}, {2, 2}, {3, 4}, {9, 256}, {10, 300}, {50, 300}}
	for _, tt := range tests {
		for range 20 {
			got := renewBackoff.Delay(tt.n).Seconds()
			if got < tt.base*0.9 || got > tt.base*1.1 {
				t.Errorf("renewBackoff(%d) = %.2fs, want %.0fs ±10%%", tt.n, got, tt.base)
			}
		}
	}
}

func TestAuthNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	cfg := Config{Address: "https://vault:8200", Auth: Auth{Method: MethodAppRole, Token: "hvs.tok3n", RoleID: "r0le-id", SecretIDFile: "/run/sid"}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "auth", cfg.Auth)
	js, err := json.Marshal(cfg) //nolint:staticcheck // the test config sets no HTTPClient, so there is no func to marshal
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String(), string(js)} {
		if strings.Contains(out, "hvs.tok3n") || strings.Contains(out, "r0le-id") {
			t.Errorf("output holds a secret: %s", out)
		}
		if !strings.Contains(out, "/run/sid") && !strings.Contains(out, "approle") {
			t.Errorf("output lost the non-secret fields: %s", out)
		}
	}
}
