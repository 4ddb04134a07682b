package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// ErrNotStarted is returned by Warnings.First before the worker that holds
// it has started.
var ErrNotStarted = errors.New("worker: not started")

// Warnings remembers in the certrotation-warnings bucket which expiry
// warnings were published, so that every replica announces each threshold
// once per certificate (for about 400 days). The probe's
// certrotator.api.unauthenticated warnings share it: their keys
// (jobs.UnauthenticatedKey) hold the day, so each is announced once per
// connector per day across replicas. Its zero value is ready to hand
// to a jobs.Rotator; a Worker started with it in Config.Warnings binds it to
// the bucket. It is safe for concurrent use.
type Warnings struct {
	mu sync.RWMutex
	kv jetstream.KeyValue
}

var _ jobs.Warnings = (*Warnings)(nil)

func (w *Warnings) bind(kv jetstream.KeyValue) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kv = kv
}

// First reports whether key is new, recording it. Keys are free text; they
// are mapped to valid KV keys. Before the worker starts it returns
// ErrNotStarted.
func (w *Warnings) First(ctx context.Context, key string) (bool, error) {
	w.mu.RLock()
	kv := w.kv
	w.mu.RUnlock()
	if kv == nil {
		return false, ErrNotStarted
	}
	_, err := kv.Create(ctx, kvKey(key), nil)
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
