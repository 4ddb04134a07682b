package worker

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// dropOutcomeKey removes key from the outcomes bucket leaving nothing
// behind. KeyValue.Delete leaves a delete marker, which the bucket keeps
// for its TTL (a day): one per request and one per uploaded connector,
// each a message the NATS server indexes by subject, so the server's
// memory grew with every request (most of the soak's growth). The keys are
// only ever read with Get, which answers not-found either way, and no one
// watches the bucket, so the markers told no one anything. Purging the
// key's subject removes its message outright. Without the stream's handle,
// or when the purge is refused, it deletes as before.
func (b *bus) dropOutcomeKey(ctx context.Context, key string) error {
	if b.outcomesStream != nil {
		err := b.outcomesStream.Purge(ctx, jetstream.WithPurgeSubject(contract.KVSubject(contract.OutcomesBucket, key)))
		if err == nil || ctx.Err() != nil {
			return err
		}
		// A user without the purge permission (deploy/nats grants it
		// since issue 20) still deletes, as before.
	}
	return b.outcomes.Delete(ctx, key)
}
