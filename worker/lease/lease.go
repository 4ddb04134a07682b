// Package lease owns the job locks of the worker: a Lease is a held lock
// (key <job> in the locks bucket), a Locker takes and gives them back, and
// the Keeper keeps every request in flight alive (InProgress) and renews
// the leases they hold. It knows nothing of requests beyond the message it
// keeps alive; the worker's consumer decides what a lock is for.
package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/jobs"
)

var (
	// ErrBusy: another replica held the job's lock for the whole wait.
	ErrBusy = errors.New("worker: job locked by another replica")
	// ErrLost: the lock expired or was taken while this replica worked.
	ErrLost = errors.New("worker: job lock lost")
	// ErrStale: NATS has not confirmed the lock for half its TTL; the
	// lock may be about to expire unseen, so the run stops.
	ErrStale = errors.New("worker: job lock not confirmed recently")
)

// Lease is a held job lock: key <job> in the locks bucket, taken by create,
// kept alive by compare-and-set updates (the Keeper's), released by a
// delete that only succeeds while it is still ours.
//
// The lease also knows when NATS last confirmed it (create or renewal): a
// replica may upload only while that confirmation is younger than half the
// TTL, and an upload ends before the TTL could run out (see Until). Those
// are the one relation between the lock TTL, the renewal period and the
// Graph timeout: TTL 30s; renewed every Keeper.Every (5s); a run is cancelled
// once the last confirmation is 15s old; an upload's deadline is the last
// confirmation plus 25s, 5s before another replica could take the lock.
//
// The age of the confirmation is measured on a monotonic clock (see
// stopwatch), never on the wall clock: a backward NTP step must not keep a
// cut-off replica's lease fresh, nor a forward one stop a healthy run.
type Lease struct {
	kv        jetstream.KeyValue
	key       string
	value     []byte
	rev       atomic.Uint64
	ttl       time.Duration
	elapsed   func() time.Duration // monotonic reading; only differences count
	confirmed atomic.Int64         // elapsed() at the last confirmation, in nanoseconds
}

var _ jobs.Lease = (*Lease)(nil)

// Key is the lock's key (the job's name).
func (l *Lease) Key() string { return l.key }

// processStart anchors processElapsed. It carries a monotonic reading, so
// time.Since(processStart) is immune to changes of the wall clock.
var processStart = time.Now()

func processElapsed() time.Duration { return time.Since(processStart) }

// stopwatch is the monotonic reading a lease measures its age with: the
// clock's own when it keeps one (a test's clock, which can then step its
// wall time apart from elapsed time), else the process's monotonic clock.
// A clock's Now is never used for it: an injected or wall clock has no
// monotonic reading to keep.
func stopwatch(c retry.Clock) func() time.Duration {
	if m, ok := c.(interface{ Elapsed() time.Duration }); ok {
		return m.Elapsed
	}
	return processElapsed
}

// confirm records that NATS acknowledged the lease, asked at the elapsed
// reading at (the TTL restarts no earlier than the request left).
func (l *Lease) confirm(at time.Duration) { l.confirmed.Store(int64(at)) }

// age is how long ago the lease was last confirmed.
func (l *Lease) age() time.Duration { return l.elapsed() - time.Duration(l.confirmed.Load()) }

// fresh reports whether the lease was confirmed within half its TTL.
func (l *Lease) fresh() bool { return l.age() <= l.ttl/2 }

// Until is the latest time an upload may run: the last confirmation plus
// five sixths of the TTL. It fails once the lease is not fresh. The time
// comes from time.Now, so it carries a monotonic reading too, and the
// upload context's deadline is as immune to wall steps as the age.
func (l *Lease) Until() (time.Time, error) {
	age := l.age()
	if age > l.ttl/2 {
		return time.Time{}, fmt.Errorf("%w: last confirmed %s ago", ErrStale, age.Round(time.Millisecond))
	}
	return time.Now().Add(l.ttl - l.ttl/6 - age), nil
}

// renew extends the lease. It returns ErrLost when the lock is no
// longer ours, or another error when NATS did not answer (the lease may
// still be alive: the keeper tries again on the next beat).
func (l *Lease) renew(ctx context.Context) error {
	asked := l.elapsed() // the TTL restarts no earlier than the request left
	rev, err := l.kv.Update(ctx, l.key, l.value, l.rev.Load())
	switch {
	case err == nil:
		l.rev.Store(rev)
		l.confirm(asked)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound),
		errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("renewing lock %s: %w", l.key, ErrLost)
	default:
		return fmt.Errorf("renewing lock %s: %w", l.key, err)
	}
}

// release deletes the lock if it is still ours.
func (l *Lease) release(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev.Load()))
	if err != nil && l.ours(ctx) {
		// A renewal whose reply was lost moved the revision on: the lock
		// still holds this request's value, so it is ours to delete.
		err = l.kv.Delete(ctx, l.key)
	}
	if err != nil {
		return fmt.Errorf("releasing lock %s: %w", l.key, err)
	}
	return nil
}

// ours reports whether the lock's current value is this lease's (this
// instance, this request message).
func (l *Lease) ours(ctx context.Context) bool {
	e, err := l.kv.Get(ctx, l.key)
	return err == nil && bytes.Equal(e.Value(), l.value)
}

// adopt takes over a lock that holds this lease's own value: this request,
// on this instance, created or renewed it, and the reply was lost in a cut
// link. Waiting for it to expire would only delay the retry by a TTL. It is
// renewed at once, which confirms it on this replica's own clock (the
// lock's write time is the server's wall clock, not comparable).
func (l *Lease) adopt(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e, err := l.kv.Get(ctx, l.key)
	if err != nil || !bytes.Equal(e.Value(), l.value) {
		return false
	}
	l.rev.Store(e.Revision())
	return l.renew(ctx) == nil
}
