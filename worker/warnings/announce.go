package warnings

import (
	"context"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/jobs"
)

// Announce publishes the warning ev on subject once across the replicas:
// only the replica that records key first in seen publishes it, and with
// an event id made from key, the same on every replica, so that the
// stream keeps one copy even when two replicas publish. published says
// whether this replica did. The credential watch and the inventory warn
// through it; a nil js or seen (the worker has not provisioned the
// buckets) is baseservice.ErrNotConnected.
func Announce(ctx context.Context, js jetstream.JetStream, seen jobs.Warnings, key, subject string, ev contract.Event) (published bool, err error) {
	if js == nil || seen == nil {
		return false, baseservice.ErrNotConnected
	}
	if first, err := seen.First(ctx, key); err != nil || !first {
		return false, err
	}
	ev.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(key)).String()
	if err := client.PublishEvent(ctx, js, subject, ev); err != nil {
		return false, err
	}
	return true, nil
}
