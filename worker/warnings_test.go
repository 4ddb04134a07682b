package worker

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestWarningsFirstOnce(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	nc := connect(t, s)
	warn := NewWarnings(newJS(t, nc))
	if _, err := warn.First(context.Background(), "k"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("First before the bucket is provisioned = %v, want bucket not found", err)
	}
	w := newWorker(t, nc, testApp(), newFake(nil))
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"contoso-api/" + conn1 + "/8E71/720h0m0s", "a.b", ".x..y.", "ünïcode key"} {
		first, err := warn.First(context.Background(), key)
		if err != nil || !first {
			t.Fatalf("First(%q) = %v, %v; want true", key, first, err)
		}
		again, err := warn.First(context.Background(), key)
		if err != nil || again {
			t.Fatalf("second First(%q) = %v, %v; want false", key, again, err)
		}
	}
}

func TestKVKeyIsValidAndDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, in := range []string{"a.b", "a_b", "a/b", "a b", ".a", "a.", "a..b", "", "ok-key_1=2", "é"} {
		k := kvKey(in)
		if k == "" || k[0] == '.' || k[len(k)-1] == '.' {
			t.Errorf("kvKey(%q) = %q, not a valid key", in, k)
		}
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=' || r == '.') {
				t.Errorf("kvKey(%q) = %q holds %q", in, k, r)
			}
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("kvKey(%q) = kvKey(%q) = %q", in, prev, k)
		}
		seen[k] = in
	}
	if kvKey("ok-key_1=2") != "ok-key_1=2" {
		t.Error("a valid key is changed")
	}
}
