package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is a KV bucket opened on its first use and kept: the services
// that share one (the Graph budget, the warnings) are built before the
// worker provisions the buckets, so they cannot open them in their
// constructors. A failed open is tried again by the next call. It is safe
// for concurrent use.
type Bucket struct {
	name    string
	buckets jetstream.KeyValueManager

	mu sync.Mutex
	kv jetstream.KeyValue // once opened
}

// NewBucket returns the bucket name that buckets (a bus's JetStream) opens.
func NewBucket(buckets jetstream.KeyValueManager, name string) *Bucket {
	return &Bucket{name: name, buckets: buckets}
}

// OpenedBucket returns kv, already open, as a Bucket.
func OpenedBucket(kv jetstream.KeyValue) *Bucket { return &Bucket{name: kv.Bucket(), kv: kv} }

// Open returns the bucket, opening it first if no call did yet.
func (b *Bucket) Open(ctx context.Context) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kv != nil {
		return b.kv, nil
	}
	if b.buckets == nil {
		return nil, fmt.Errorf("opening bucket %s: no NATS connection to open it on", b.name)
	}
	kv, err := b.buckets.KeyValue(ctx, b.name)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", b.name, err)
	}
	b.kv = kv
	return kv, nil
}
