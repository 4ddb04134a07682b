package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/jobs"
)

// lease is a held job lock: key <job> in the locks bucket, taken by create,
// kept alive by compare-and-set updates (the lock keeper's), released by a
// delete that only succeeds while it is still ours.
//
// The lease also knows when NATS last confirmed it (create or renewal): a
// replica may upload only while that confirmation is younger than half the
// TTL, and an upload ends before the TTL could run out (see Until). Those
// are the one relation between the lock TTL, the renewal period and the
// Graph timeout: TTL 30s; renewed every keepAlive (5s); a run is cancelled
// once the last confirmation is 15s old; an upload's deadline is the last
// confirmation plus 25s, 5s before another replica could take the lock.
//
// The age of the confirmation is measured on a monotonic clock (see
// stopwatch), never on the wall clock: a backward NTP step must not keep a
// cut-off replica's lease fresh, nor a forward one stop a healthy run.
type lease struct {
	kv        jetstream.KeyValue
	key       string
	value     []byte
	rev       atomic.Uint64
	ttl       time.Duration
	elapsed   func() time.Duration // monotonic reading; only differences count
	confirmed atomic.Int64         // elapsed() at the last confirmation, in nanoseconds
}

var _ jobs.Lease = (*lease)(nil)

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
func (l *lease) confirm(at time.Duration) { l.confirmed.Store(int64(at)) }

// age is how long ago the lease was last confirmed.
func (l *lease) age() time.Duration { return l.elapsed() - time.Duration(l.confirmed.Load()) }

// fresh reports whether the lease was confirmed within half its TTL.
func (l *lease) fresh() bool { return l.age() <= l.ttl/2 }

// Until is the latest time an upload may run: the last confirmation plus
// five sixths of the TTL. It fails once the lease is not fresh. The time
// comes from time.Now, so it carries a monotonic reading too, and the
// upload context's deadline is as immune to wall steps as the age.
func (l *lease) Until() (time.Time, error) {
	age := l.age()
	if age > l.ttl/2 {
		return time.Time{}, fmt.Errorf("%w: last confirmed %s ago", errLeaseStale, age.Round(time.Millisecond))
	}
	return time.Now().Add(l.ttl - l.ttl/6 - age), nil
}

// acquire takes the job's lock, waiting in-process while another replica
// holds it: the request keeps its slot and the lock keeper sends InProgress
// meanwhile, so lock contention does not spend deliveries (max_attempts).
// After lockWait it gives up with errLockBusy and the caller naks with a
// short delay, which does spend one delivery.
func (s *shared) acquire(ctx context.Context, job string, seq uint64) (*lease, error) {
	b := s.bus()
	if b == nil {
		return nil, errNotConnected
	}
	l := &lease{kv: b.locks, key: contract.LockKey(job), value: fmt.Appendf(nil, "%s seq=%d", s.instance, seq), ttl: contract.LockTTL, elapsed: stopwatch(s.tune.clock)}
	deadline := s.tune.clock.Now().Add(s.tune.lockWait)
	for announced := false; ; announced = true {
		released := s.releases.watch(job)
		asked := l.elapsed()
		rev, err := s.opCreate(ctx, l)
		if err == nil {
			l.rev.Store(rev)
			l.confirm(asked)
			return l, nil
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyExists):
			if l.adopt(ctx, s.tune.opTimeout) {
				return l, nil
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("taking lock %s: %w", job, err)
		default:
			// NATS did not answer (a leader election, a cut link): wait and
			// try again like a busy lock, instead of spending one of the
			// request's deliveries on a fault of the bus.
			s.log.Debug("taking job lock failed, retrying", "job", job, "error", err)
		}
		if !announced && errors.Is(err, jetstream.ErrKeyExists) {
			s.log.Debug("job locked elsewhere, waiting", "job", job, "holder", s.lockHolder(ctx, job))
			s.signals.lockBusy.Signal(job)
		}
		if !s.tune.clock.Now().Before(deadline) {
			return nil, errLockBusy
		}
		select {
		case <-released:
		case <-s.tune.clock.After(retry.Spread(s.tune.lockPoll, 0.5, nil)):
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (s *shared) opCreate(ctx context.Context, l *lease) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	return l.kv.Create(ctx, l.key, l.value)
}

// lockHolder names who holds the job's lock, for logs.
func (s *shared) lockHolder(ctx context.Context, job string) string {
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	e, err := s.bus().locks.Get(ctx, contract.LockKey(job))
	if err != nil {
		return ""
	}
	return string(e.Value())
}

// renew extends the lease. It returns errLockLost when the lock is no
// longer ours, or another error when NATS did not answer (the lease may
// still be alive: the keeper tries again on the next beat).
func (l *lease) renew(ctx context.Context) error {
	asked := l.elapsed() // the TTL restarts no earlier than the request left
	rev, err := l.kv.Update(ctx, l.key, l.value, l.rev.Load())
	switch {
	case err == nil:
		l.rev.Store(rev)
		l.confirm(asked)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound),
		errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("renewing lock %s: %w", l.key, errLockLost)
	default:
		return fmt.Errorf("renewing lock %s: %w", l.key, err)
	}
}

// release deletes the lock if it is still ours.
func (l *lease) release(ctx context.Context, timeout time.Duration) error {
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
func (l *lease) ours(ctx context.Context) bool {
	e, err := l.kv.Get(ctx, l.key)
	return err == nil && bytes.Equal(e.Value(), l.value)
}

// adopt takes over a lock that holds this lease's own value: this request,
// on this instance, created or renewed it, and the reply was lost in a cut
// link. Waiting for it to expire would only delay the retry by a TTL. It is
// renewed at once, which confirms it on this replica's own clock (the
// lock's write time is the server's wall clock, not comparable).
func (l *lease) adopt(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e, err := l.kv.Get(ctx, l.key)
	if err != nil || !bytes.Equal(e.Value(), l.value) {
		return false
	}
	l.rev.Store(e.Revision())
	return l.renew(ctx) == nil
}

// releases wakes the requests of this replica that wait for a job's lock
// when this replica releases it: requests of one job queued here start at
// once. A lock released by another replica, or expired, is noticed at the
// next poll (lockPoll).
type releases struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

// watch returns a channel closed at the job's next local release. Taken
// before trying the lock, so a release in between is not missed.
func (r *releases) watch(job string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch == nil {
		r.ch = map[string]chan struct{}{}
	}
	c, ok := r.ch[job]
	if !ok {
		c = make(chan struct{})
		r.ch[job] = c
	}
	return c
}

// notify wakes the job's waiters.
func (r *releases) notify(job string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.ch[job]; ok {
		close(c)
		delete(r.ch, job)
	}
}
