package vaultsrc

import (
	"bytes"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestVault runs every test that needs Vault as parallel subtests sharing
// one dev server: the server stops when the last of them ends.
func TestVault(t *testing.T) {
	t.Parallel()
	srv := vaulttest.Start(t)
	tests := map[string]func(*testing.T, *vaulttest.Server){
		"token read":             testTokenRead,
		"new version":            testNewVersion,
		"password absent":        testPasswordAbsent,
		"password from a file":   testPasswordFromFile,
		"wrapped base64":         testWrappedBase64,
		"missing secret":         testMissingSecret,
		"deleted latest version": testDeletedVersion,
		"destroyed version":      testDestroyedVersion,
		"missing pfx field":      testMissingField,
		"not base64":             testNotBase64,
		"denied path":            testDeniedPath,
		"approle":                testAppRole,
		"approle refused":        testAppRoleRefused,
		"approle relogin":        testAppRoleReLogin,
		"token renewal":          testTokenRenewal,
		"pinned version":         testPinnedVersion,
		"pinned version gone":    testPinnedGone,
		"versions metadata only": testVersionsMetadataOnly,
		"write check-and-set":    testWriteCheckAndSet,
		"issue and revoke":       testIssueAndRevoke,
		"issuance race":          testIssuanceRace,
		"issuance lost answer":   testIssuanceLostAnswer,
		"issue then rollback":    testIssueThenRollback,
		"token file rotated":     testTokenFileRotated,
		"token file renewal":     testTokenFileRenewalLoop,
		"shipped policy":         testShippedPolicy,
		"shipped pki policy":     testShippedPKIPolicy,
		"self check":             testSelfCheck,
		"secret id expiry":       testSecretIDExpiry,
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, srv)
		})
	}
}

// tokenClient returns a Client using token, stopped when t ends.
func tokenClient(t *testing.T, srv *vaulttest.Server, token string) (*Client, *logBuffer) {
	t.Helper()
	logger, logs := testLogger(t)
	c, err := New(testContext(t), Config{Address: srv.Addr, Auth: Auth{Token: token}, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stopOnCleanup(t, c)
	return c, logs
}

// ref points at path under the default mount and fields.
func ref(path string) jobs.SourceRef {
	return jobs.SourceRef{Mount: "secret", Path: path, PFXField: "pfx", PasswordField: "password"}
}

func testTokenRead(t *testing.T, srv *vaulttest.Server) {
	version := srv.PutBundle(t, "secret", "b2c/read", testPFX, "s3cret-pw")
	c, logs := tokenClient(t, srv, srv.Token)
	m, err := c.Fetch(testContext(t), ref("b2c/read"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(m.PFX, testPFX) || m.Password != "s3cret-pw" || m.Version != version {
		t.Errorf("got %d bytes, password match %v, version %d; want %d bytes, the password, version %d",
			len(m.PFX), m.Password == "s3cret-pw", m.Version, len(testPFX), version)
	}
	if l := logs.String(); strings.Contains(l, srv.Token) || strings.Contains(l, "s3cret-pw") ||
		strings.Contains(l, base64.StdEncoding.EncodeToString(testPFX)[:40]) {
		t.Errorf("logs hold a secret:\n%s", l)
	}
}

func testNewVersion(t *testing.T, srv *vaulttest.Server) {
	c, _ := tokenClient(t, srv, srv.Token)
	v1 := srv.PutBundle(t, "secret", "b2c/versions", []byte("first"), "")
	m1, err := c.Fetch(testContext(t), ref("b2c/versions"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	v2 := srv.PutBundle(t, "secret", "b2c/versions", []byte("second"), "")
	m2, err := c.Fetch(testContext(t), ref("b2c/versions"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if m1.Version != v1 || m2.Version != v2 || v2 != v1+1 {
		t.Errorf("got versions %d then %d, want %d then %d", m1.Version, m2.Version, v1, v2)
	}
	if string(m2.PFX) != "second" {
		t.Errorf("second fetch returned %q, want the new version", m2.PFX)
	}
}

func testPasswordAbsent(t *testing.T, srv *vaulttest.Server) {
	srv.Put(t, "secret", "b2c/nopass", map[string]any{"pfx": base64.StdEncoding.EncodeToString(testPFX)})
	c, _ := tokenClient(t, srv, srv.Token)
	m, err := c.Fetch(testContext(t), ref("b2c/nopass"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if m.Password != "" || !bytes.Equal(m.PFX, testPFX) {
		t.Errorf("got password %q and %d bytes, want none and the PFX", m.Password, len(m.PFX))
	}
}

func testWrappedBase64(t *testing.T, srv *vaulttest.Server) {
	// As `vault kv put … pfx=@bundle.b64` stores a file made by base64
	// without -w0, under custom field names.
	srv.Put(t, "secret", "b2c/wrapped", map[string]any{
		"bundle": wrap(base64.StdEncoding.EncodeToString(testPFX), 76),
		"pin":    "pw",
	})
	c, _ := tokenClient(t, srv, srv.Token)
	m, err := c.Fetch(testContext(t), jobs.SourceRef{Mount: "/secret/", Path: "b2c/wrapped", PFXField: "bundle", PasswordField: "pin"})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(m.PFX, testPFX) || m.Password != "pw" {
		t.Errorf("got %d bytes and password match %v, want the PFX and its password", len(m.PFX), m.Password == "pw")
	}
}

func testMissingSecret(t *testing.T, srv *vaulttest.Server) {
	c, _ := tokenClient(t, srv, srv.Token)
	_, err := c.Fetch(testContext(t), ref("b2c/nothing-here"))
	wantFailure(t, err, jobs.ClassPermanent, CodeNotFound,
		[]string{"reading bundle secret/b2c/nothing-here", "secret/data/b2c/nothing-here"}, srv.Token)
}

func testDeletedVersion(t *testing.T, srv *vaulttest.Server) {
	version := srv.PutBundle(t, "secret", "b2c/deleted", testPFX, "pw")
	ctx := testContext(t)
	if err := srv.Client(t).KVv2("secret").Delete(ctx, "b2c/deleted"); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	c, _ := tokenClient(t, srv, srv.Token)
	_, err := c.Fetch(ctx, ref("b2c/deleted"))
	wantFailure(t, err, jobs.ClassPermanent, CodeNotFound,
		[]string{"reading bundle secret/b2c/deleted", "deleted", "undelete", "-versions=" + strconv.Itoa(version)})
}

func testDestroyedVersion(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/destroyed", testPFX, "pw")
	version := srv.PutBundle(t, "secret", "b2c/destroyed", testPFX, "pw")
	ctx := testContext(t)
	if err := srv.Client(t).KVv2("secret").Destroy(ctx, "b2c/destroyed", []int{version}); err != nil {
		t.Fatalf("destroying: %v", err)
	}
	c, _ := tokenClient(t, srv, srv.Token)
	_, err := c.Fetch(ctx, ref("b2c/destroyed"))
	wantFailure(t, err, jobs.ClassPermanent, CodeNotFound,
		[]string{"reading bundle secret/b2c/destroyed", "(" + strconv.Itoa(version) + ") is destroyed", "write a new version"})
}

func testMissingField(t *testing.T, srv *vaulttest.Server) {
	srv.Put(t, "secret", "b2c/nofield", map[string]any{"certificate": "sekrit-value"})
	c, _ := tokenClient(t, srv, srv.Token)
	_, err := c.Fetch(testContext(t), ref("b2c/nofield"))
	wantFailure(t, err, jobs.ClassPermanent, CodeFieldMissing,
		[]string{"reading bundle secret/b2c/nofield", `no field "pfx"`, `"certificate"`}, "sekrit-value")
}

func testNotBase64(t *testing.T, srv *vaulttest.Server) {
	srv.Put(t, "secret", "b2c/notb64", map[string]any{"pfx": "sekrit*value", "password": "pw"})
	c, _ := tokenClient(t, srv, srv.Token)
	_, err := c.Fetch(testContext(t), ref("b2c/notb64"))
	wantFailure(t, err, jobs.ClassPermanent, CodeMalformed,
		[]string{"reading bundle secret/b2c/notb64", `field "pfx"`, "not standard base64"}, "sekrit")
}

func testDeniedPath(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/allowed", testPFX, "")
	srv.PutBundle(t, "secret", "b2c/forbidden", testPFX, "")
	token := srv.TokenWithPolicy(t, "read-allowed", `path "secret/data/b2c/allowed" { capabilities = ["read"] }`)
	c, _ := tokenClient(t, srv, token)
	ctx := testContext(t)
	if _, err := c.Fetch(ctx, ref("b2c/allowed")); err != nil {
		t.Fatalf("Fetch of the allowed path: %v", err)
	}
	_, err := c.Fetch(ctx, ref("b2c/forbidden"))
	wantFailure(t, err, jobs.ClassPermanent, CodeDenied,
		[]string{"reading bundle secret/b2c/forbidden", "403", "permission denied", "allow read on secret/data/b2c/forbidden"}, token)
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	c, err := New(testContext(t), Config{Address: addr, Auth: Auth{Token: "unused-token"}})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, c)
	_, err = c.Fetch(testContext(t), ref("b2c/any"))
	wantFailure(t, err, jobs.ClassTransient, CodeUnavailable,
		[]string{"reading bundle secret/b2c/any", "vault unreachable", "connection refused"}, "unused-token")
}
