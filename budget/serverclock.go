package budget

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/retry"
)

// resyncEvery is how often a replica asks the server for its time again;
// between samples it counts on its own clock's rate, which drifts by far
// less than a slot per period.
const resyncEvery = 30 * time.Second

// serverClock is the NATS server's time as this replica knows it: an
// offset from the replica's own clock, measured from the timestamp the
// server puts in the bucket's stream info, to within half a round trip.
// Every replica stamps and reads slots in that one time, so a replica whose
// clock runs ahead cannot see slots as free that another has reserved
// (minting), and one whose clock runs behind does not wait for slots that
// are already due (starving).
type serverClock struct {
	mu     sync.Mutex
	offset time.Duration
	synced time.Time // local time of the last sample; zero: never
}

// sync samples the server's time when the last sample is older than
// resyncEvery.
func (c *serverClock) sync(ctx context.Context, kv jetstream.KeyValue, clock retry.Clock, ops *atomic.Int64) error {
	c.mu.Lock()
	fresh := !c.synced.IsZero() && clock.Now().Sub(c.synced) < resyncEvery
	c.mu.Unlock()
	if fresh {
		return nil
	}
	before := clock.Now()
	ops.Add(1)
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the NATS server's time for the graph budget: %w", err)
	}
	after := clock.Now()
	info, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || info.StreamInfo() == nil || info.StreamInfo().TimeStamp.IsZero() {
		return fmt.Errorf("reading the NATS server's time for the graph budget: the server sent none (nats-server 2.10 or later is needed)")
	}
	mid := before.Add(after.Sub(before) / 2)
	c.mu.Lock()
	c.offset = info.StreamInfo().TimeStamp.Sub(mid)
	c.synced = after
	c.mu.Unlock()
	return nil
}

// now is the server's time by this replica's clock and the last offset.
func (c *serverClock) now(clock retry.Clock) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clock.Now().Add(c.offset)
}
