package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testsignal"
)

// Locker takes and gives back the job locks of one replica.
type Locker struct {
	baseservice.BaseService
	instance string
	locks    func() jetstream.KeyValue

	// Wait is how long a request waits for a busy lock in-process; Poll
	// how often it tries again meanwhile; OpTimeout bounds one NATS round
	// trip. Tests shrink them.
	Wait, Poll, OpTimeout time.Duration
	// TestSignals fire at the moments tests wait for.
	TestSignals LockerSignals

	releases releases // wakes local waiters for a job's lock
}

// LockerSignals are inert unless a test arms them.
type LockerSignals struct {
	Busy     testsignal.Signal[string] // a request found its job locked elsewhere
	Released testsignal.Signal[string] // a job lock was given back
}

// NewLocker returns a Locker that writes instance into the locks it holds
// and finds the locks bucket with locks (nil until the worker provisioned
// it).
func NewLocker(a *baseservice.Archetype, instance string, locks func() jetstream.KeyValue) *Locker {
	lk := &Locker{instance: instance, locks: locks, Wait: 5 * time.Minute, Poll: time.Second, OpTimeout: 10 * time.Second}
	lk.Init(a)
	return lk
}

// Acquire takes the job's lock, waiting in-process while another replica
// holds it: the request keeps its slot and the Keeper sends InProgress
// meanwhile, so lock contention does not spend deliveries (max_attempts).
// After Wait it gives up with ErrBusy and the caller naks with a short
// delay, which does spend one delivery.
func (lk *Locker) Acquire(ctx context.Context, job string, seq uint64) (*Lease, error) {
	kv := lk.locks()
	if kv == nil {
		return nil, baseservice.ErrNotConnected
	}
	clock, log := lk.Clock(), lk.Logger()
	l := &Lease{kv: kv, key: contract.LockKey(job), value: fmt.Appendf(nil, "%s seq=%d", lk.instance, seq), ttl: contract.LockTTL, elapsed: stopwatch(clock)}
	deadline := clock.Now().Add(lk.Wait)
	for announced := false; ; announced = true {
		released := lk.releases.watch(job)
		asked := l.elapsed()
		rev, err := lk.create(ctx, l)
		if err == nil {
			l.rev.Store(rev)
			l.confirm(asked)
			return l, nil
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyExists):
			if l.adopt(ctx, lk.OpTimeout) {
				return l, nil
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("taking lock %s: %w", job, err)
		default:
			// NATS did not answer (a leader election, a cut link): wait and
			// try again like a busy lock, instead of spending one of the
			// request's deliveries on a fault of the bus.
			log.Debug("taking job lock failed, retrying", "job", job, "error", err)
		}
		if !announced && errors.Is(err, jetstream.ErrKeyExists) {
			log.Debug("job locked elsewhere, waiting", "job", job, "holder", lk.holder(ctx, kv, job))
			lk.TestSignals.Busy.Signal(job)
		}
		if !clock.Now().Before(deadline) {
			return nil, ErrBusy
		}
		select {
		case <-released:
		case <-clock.After(retry.Spread(lk.Poll, 0.5, nil)):
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (lk *Locker) create(ctx context.Context, l *Lease) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, lk.OpTimeout)
	defer cancel()
	return l.kv.Create(ctx, l.key, l.value)
}

// holder names who holds the job's lock, for logs.
func (lk *Locker) holder(ctx context.Context, kv jetstream.KeyValue, job string) string {
	ctx, cancel := context.WithTimeout(ctx, lk.OpTimeout)
	defer cancel()
	e, err := kv.Get(ctx, contract.LockKey(job))
	if err != nil {
		return ""
	}
	return string(e.Value())
}

// Release gives the job's lock back, even when ctx was cancelled, and
// wakes this replica's requests waiting for it.
func (lk *Locker) Release(ctx context.Context, l *Lease) {
	if err := l.release(ctx, lk.OpTimeout); err != nil {
		lk.Logger().Debug("releasing job lock", "job", l.key, "error", err)
	}
	lk.releases.notify(l.key)
	lk.TestSignals.Released.Signal(l.key)
}

// releases wakes the requests of this replica that wait for a job's lock
// when this replica releases it: requests of one job queued here start at
// once. A lock released by another replica, or expired, is noticed at the
// next poll (Poll).
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
