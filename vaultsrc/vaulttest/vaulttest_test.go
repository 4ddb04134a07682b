package vaulttest

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServer(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	v1 := srv.PutBundle(t, "secret", "b2c/x", []byte("pfx-bytes"), "pw")
	v2 := srv.Put(t, "secret", "b2c/x", map[string]any{"pfx": "AA=="})
	if v2 != v1+1 {
		t.Errorf("got versions %d then %d, want consecutive", v1, v2)
	}
	kv, err := srv.Client(t).KVv2("secret").GetVersion(ctx, "b2c/x", v1)
	if err != nil {
		t.Fatalf("reading version %d: %v", v1, err)
	}
	if kv.Data["pfx"] != base64.StdEncoding.EncodeToString([]byte("pfx-bytes")) || kv.Data["password"] != "pw" {
		t.Errorf("PutBundle wrote %v, want the standard base64 and the password", kv.Data)
	}

	token := srv.TokenWithPolicy(t, "read-x", `path "secret/data/b2c/x" { capabilities = ["read"] }`)
	c := srv.Client(t)
	c.SetToken(token)
	if _, err := c.KVv2("secret").Get(ctx, "b2c/x"); err != nil {
		t.Errorf("token with policy cannot read what it allows: %v", err)
	}
	if _, err := c.KVv2("secret").Put(ctx, "b2c/x", map[string]any{"a": "b"}); err == nil {
		t.Errorf("token with a read policy could write")
	}
}

// TestStartConcurrently starts servers at once, as parallel test binaries
// do, and checks each is its own.
func TestStartConcurrently(t *testing.T) {
	t.Parallel()
	const n = 3
	for i := range n {
		t.Run("server", func(t *testing.T) {
			t.Parallel()
			srv := Start(t)
			srv.Put(t, "secret", "who", map[string]any{"i": i})
			// A shared server would hold more than this test's two writes.
			if v := srv.Put(t, "secret", "who", map[string]any{"i": i}); v != 2 {
				t.Errorf("server %s has version %d of a key only this test wrote twice", srv.Addr, v)
			}
		})
	}
}
