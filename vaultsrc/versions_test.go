package vaultsrc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

func testPinnedVersion(t *testing.T, srv *vaulttest.Server) {
	v1 := srv.PutBundle(t, "secret", "b2c/pinned", []byte("first"), "pw1")
	srv.PutBundle(t, "secret", "b2c/pinned", []byte("second"), "pw2")
	c, _ := tokenClient(t, srv, srv.Token)
	r := ref("b2c/pinned")
	r.Version = v1
	m, err := c.Fetch(testContext(t), r)
	if err != nil {
		t.Fatalf("Fetch version %d: %v", v1, err)
	}
	if string(m.PFX) != "first" || m.Password != "pw1" || m.Version != v1 {
		t.Errorf("got %q version %d, want the first bundle as version %d", m.PFX, m.Version, v1)
	}
}

func testPinnedGone(t *testing.T, srv *vaulttest.Server) {
	ctx := testContext(t)
	putGoneVersions(t, srv, "b2c/gone", "")
	c, _ := tokenClient(t, srv, srv.Token)
	for _, tc := range []struct {
		version int
		want    error
		words   []string
	}{
		{1, ErrVersionDeleted, []string{"version 1", "undelete", "-versions=1", "roll back to another version"}},
		{2, ErrVersionDestroyed, []string{"version 2", "cannot be recovered"}},
		{9, ErrVersionMissing, []string{"version 9", "vault kv metadata get secret/b2c/gone"}},
	} {
		r := ref("b2c/gone")
		r.Version = tc.version
		_, err := c.Fetch(ctx, r)
		wantFailure(t, err, jobs.ClassPermanent, CodeNotFound, tc.words)
		if !errors.Is(err, tc.want) {
			t.Errorf("version %d: error %q is not %v", tc.version, err, tc.want)
		}
	}
}

func testVersionsMetadataOnly(t *testing.T, srv *vaulttest.Server) {
	ctx := testContext(t)
	putGoneVersions(t, srv, "b2c/meta", "sekrit-meta-pw")
	// This token can read metadata and nothing else: Versions working with
	// it proves that it never reads the data.
	token := srv.TokenWithPolicy(t, "meta-only", `path "secret/metadata/b2c/*" { capabilities = ["read"] }`)
	c, _ := tokenClient(t, srv, token)
	h, err := c.Versions(ctx, ref("b2c/meta"))
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if h.Current != 3 || len(h.Versions) != 3 || h.Versions[0].Version != 3 || h.Versions[2].Version != 1 {
		t.Fatalf("history %+v, want current 3 and versions 3, 2, 1", h)
	}
	now := time.Now()
	v3, v2, v1 := h.Versions[0], h.Versions[1], h.Versions[2]
	if !v3.Live(now) || v2.Live(now) || !v2.Destroyed || v1.Live(now) || v1.Deleted.IsZero() || v3.Created.IsZero() {
		t.Errorf("versions %+v: want 3 live, 2 destroyed, 1 deleted, created times set", h.Versions)
	}
	if _, err := c.Fetch(ctx, ref("b2c/meta")); err == nil {
		t.Errorf("the metadata-only token read the data")
	}
	empty, err := c.Versions(ctx, ref("b2c/never-written"))
	if err != nil || empty.Current != 0 || len(empty.Versions) != 0 {
		t.Errorf("never-written path: %+v, %v; want a zero history", empty, err)
	}
}

func testWriteCheckAndSet(t *testing.T, srv *vaulttest.Server) {
	ctx := testContext(t)
	c, logs := tokenClient(t, srv, srv.Token)
	r := ref("b2c/cas")
	notAfter := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	nv := jobs.NewVersion{Material: jobs.Material{PFX: testPFX, Password: "sekrit-cas-pw"}, Serial: "1a:2b", NotAfter: notAfter, Issuer: "CN=test CA"}
	v1, err := c.Write(ctx, r, 0, nv)
	if err != nil || v1 != 1 {
		t.Fatalf("Write cas 0 = %d, %v; want version 1", v1, err)
	}
	_, err = c.Write(ctx, r, 0, nv)
	if !errors.Is(err, ErrCASConflict) || !errors.Is(err, jobs.ErrWriteConflict) {
		t.Fatalf("second Write cas 0: %v, want ErrCASConflict and jobs.ErrWriteConflict", err)
	}
	wantFailure(t, err, jobs.ClassTransient, CodeConflict, []string{"secret/b2c/cas", "version 0"}, "sekrit-cas-pw")
	nv.Serial = "3c:4d"
	v2, err := c.Write(ctx, r, v1, nv)
	if err != nil || v2 != 2 {
		t.Fatalf("Write cas 1 = %d, %v; want version 2", v2, err)
	}
	m, err := c.Fetch(ctx, r)
	if err != nil || !bytes.Equal(m.PFX, testPFX) || m.Password != "sekrit-cas-pw" || m.Version != 2 {
		t.Fatalf("Fetch after Write: version %d, %v; want the bundle as version 2", m.Version, err)
	}
	h, err := c.Versions(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Versions[0]; got.Serial != "3c:4d" || !got.NotAfter.Equal(notAfter) || got.Issuer != "CN=test CA" {
		t.Errorf("version 2 metadata %+v, want serial 3c:4d, not_after %s, issuer CN=test CA", got, notAfter)
	}
	if got := h.Versions[1]; got.Serial != "1a:2b" {
		t.Errorf("version 1 serial %q, want 1a:2b", got.Serial)
	}
	if strings.Contains(logs.String(), "sekrit-cas-pw") {
		t.Errorf("logs hold the password")
	}
}

func TestVersionMetadataWindow(t *testing.T) {
	t.Parallel()
	m := versionMetadata(metadataVersionsKept+3, jobs.NewVersion{Serial: "aa"})
	if m[metaKey(metadataVersionsKept+3, metaSerial)] != "aa" {
		t.Errorf("patch %v lacks the new serial", m)
	}
	if v, ok := m[metaKey(3, metaSerial)]; !ok || v != nil {
		t.Errorf("patch %v does not drop version 3's keys", m)
	}
	if len(versionMetadata(2, jobs.NewVersion{})) != 3 {
		t.Errorf("an early version drops keys")
	}
}

// putGoneVersions writes three versions at secret/<path> (bundles "a",
// "b" and "c" with password), then deletes the first and destroys the
// second: a history with each kind of gone version.
func putGoneVersions(t *testing.T, srv *vaulttest.Server, path, password string) {
	t.Helper()
	for _, v := range []string{"a", "b", "c"} {
		srv.PutBundle(t, "secret", path, []byte(v), password)
	}
	ctx := testContext(t)
	kv := srv.Client(t).KVv2("secret")
	if err := kv.DeleteVersions(ctx, path, []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Destroy(ctx, path, []int{2}); err != nil {
		t.Fatal(err)
	}
}
