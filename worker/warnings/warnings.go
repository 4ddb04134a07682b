// Package warnings owns the memory of the warnings published: which
// expiry and probe warnings some replica already announced, kept in the
// warnings bucket, so that every replica together announces each once. It
// is the jobs.Warnings the Rotator and the worker's credential watch use;
// Announce publishes a warning once across the replicas through it.
package warnings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Store remembers in the certrotation-warnings bucket which expiry
// warnings were published, so that every replica announces each threshold
// once per certificate (for about 400 days). The probe's
// certrotator.api.unauthenticated warnings share it: their keys
// (jobs.UnauthenticatedKey) hold the day, so each is announced once per
// connector per day across replicas. It opens the bucket on the bus cmd
// opened at its first use (the worker provisions it at start) and keeps
// it. It is safe for concurrent use.
type Store struct {
	kv *client.Bucket
}

var _ jobs.Warnings = (*Store)(nil)

// New returns the warnings kept in the bucket that buckets opens (a bus's
// JetStream).
func New(buckets jetstream.KeyValueManager) *Store {
	return &Store{kv: client.NewBucket(buckets, contract.WarningsBucket)}
}

// On returns the warnings kept in kv, the bucket already open.
func On(kv jetstream.KeyValue) *Store { return &Store{kv: client.OpenedBucket(kv)} }

// First reports whether key is new, recording it. Keys are free text; they
// are mapped to valid KV keys.
func (w *Store) First(ctx context.Context, key string) (bool, error) {
	kv, err := w.kv.Open(ctx)
	if err != nil {
		return false, err
	}
	_, err = kv.Create(ctx, kvKey(key), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	default:
		return false, fmt.Errorf("recording warning %q: %w", key, err)
	}
}

// kvKey maps free text to a valid KV key: allowed characters stay, others
// become '_', and a hash suffix keeps distinct inputs distinct.
func kvKey(s string) string {
	var b strings.Builder
	changed := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0 && !strings.HasSuffix(b.String(), "."):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			changed = true
		}
	}
	out := strings.TrimSuffix(b.String(), ".")
	if changed || out != s || out == "" {
		sum := sha256.Sum256([]byte(s))
		out += "-" + hex.EncodeToString(sum[:6])
	}
	return out
}
