package vaultsrc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// runScript runs deploy/vault/<name> with the vault CLI against srv, from
// dir, with extra environment; it returns the exit code and the output.
func runScript(t *testing.T, srv *vaulttest.Server, name, dir string, extra ...string) (int, string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "deploy", "vault", name))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testContext(t), "sh", script)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + filepath.Dir(vaulttest.Binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + t.TempDir(), "VAULT_ADDR=" + srv.Addr, "VAULT_TOKEN=" + srv.Token}, extra...)
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return 0, string(out)
}

// TestApproleScript: deploy/vault/approle.sh writes vault-role-id and
// vault-secret-id where it is run from (or OUT_DIR), never into the clone
// (run from deploy/vault it refuses), and the role it makes logs in to a
// token holding exactly the shipped policies (token_no_default_policy), with
// which the worker's calls and doctor's capabilities check pass.
func TestApproleScript(t *testing.T) {
	t.Parallel()
	srv := vaulttest.Start(t)
	srv.PutBundle(t, "secret", "b2c/script", testPFX, "pw")
	clone, err := filepath.Abs(filepath.Join("..", "deploy", "vault"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := runScript(t, srv, "approle.sh", clone); code != 2 || !strings.Contains(out, "refusing") {
		t.Fatalf("run from deploy/vault: exit %d\n%s\nwant a refusal", code, out)
	}
	for _, f := range []string{"vault-role-id", "vault-secret-id"} {
		if _, err := os.Stat(filepath.Join(clone, f)); err == nil {
			t.Fatalf("%s was written into the clone", f)
		}
	}
	for _, pki := range []bool{false, true} {
		dir := t.TempDir()
		env := []string{}
		want := []string{"certrotator"}
		if pki {
			env = append(env, "PKI=1")
			want = append(want, "certrotator-pki")
		}
		if code, out := runScript(t, srv, "approle.sh", dir, env...); code != 0 {
			t.Fatalf("approle.sh (PKI %v): exit %d\n%s", pki, code, out)
		}
		for _, f := range []string{"vault-role-id", "vault-secret-id"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s in the working directory: %v, mode %v; want it, 0600", f, err, fi)
			}
		}
		roleID, err := os.ReadFile(filepath.Join(dir, "vault-role-id"))
		if err != nil {
			t.Fatal(err)
		}
		logger, _ := testLogger(t)
		c, err := New(testContext(t), Config{Address: srv.Addr, Logger: logger,
			Auth: Auth{Method: MethodAppRole, RoleID: strings.TrimSpace(string(roleID)), SecretIDFile: filepath.Join(dir, "vault-secret-id")}})
		if err != nil {
			t.Fatalf("AppRole login: %v", err)
		}
		stopOnCleanup(t, c)
		ti, err := c.LookupSelf(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(ti.Policies)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("PKI %v: token policies %v, want exactly %v", pki, ti.Policies, want)
		}
		if _, err := c.Fetch(testContext(t), ref("b2c/script")); err != nil {
			t.Errorf("PKI %v: reading a bundle: %v", pki, err)
		}
		if _, err := c.Capabilities(testContext(t), "secret/data/b2c/script"); err != nil {
			t.Errorf("PKI %v: doctor's capabilities check: %v", pki, err)
		}
	}
}
