package lease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/startstop"
)

// Keeper is the service that keeps requests in flight alive: every Every
// it tells JetStream each tracked message is in progress (so AckWait does
// not redeliver it to another replica) and renews the job lease the
// request holds. A lease found lost cancels that request's run with
// ErrLost; one not confirmed for half its TTL, with ErrStale.
type Keeper struct {
	startstop.Base
	baseservice.BaseService
	// Every is the InProgress and renewal period (a sixth of the lock
	// TTL); OpTimeout bounds one renewal. Tests shrink them.
	Every, OpTimeout time.Duration

	mu      sync.Mutex
	tracked map[*Work]struct{}
}

// NewKeeper returns a Keeper with the default period.
func NewKeeper(a *baseservice.Archetype) *Keeper {
	k := &Keeper{Every: 5 * time.Second, OpTimeout: 10 * time.Second}
	k.Init(a)
	return k
}

// Work is one request in flight as the keeper sees it.
type Work struct {
	Msg    jetstream.Msg
	Lease  atomic.Pointer[Lease] // set once the job's lock is held
	Cancel context.CancelCauseFunc
}

// Start launches the keep-alive loop.
func (k *Keeper) Start(ctx context.Context) error {
	return k.Launch(ctx, func(ctx context.Context) (func(), error) {
		return func() {
			t := time.NewTicker(k.Every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					k.runOnce(ctx)
				}
			}
		}, nil
	})
}

// Track adds a request in flight; the returned func removes it.
func (k *Keeper) Track(w *Work) (untrack func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tracked == nil {
		k.tracked = map[*Work]struct{}{}
	}
	k.tracked[w] = struct{}{}
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.tracked, w)
	}
}

// runOnce sends InProgress for every tracked request and renews the leases
// they hold.
func (k *Keeper) runOnce(ctx context.Context) {
	k.mu.Lock()
	all := make([]*Work, 0, len(k.tracked))
	for w := range k.tracked {
		all = append(all, w)
	}
	k.mu.Unlock()
	for _, w := range all {
		if err := w.Msg.InProgress(); err != nil {
			k.Logger().Warn("extending ack wait", "error", err)
		}
		if l := w.Lease.Load(); l != nil {
			k.renew(ctx, w, l)
		}
	}
}

// renew extends one lease. Any failure that leaves the lease unconfirmed
// for half its TTL cancels the run, whatever the cause: a replica cut off
// from NATS cannot know whether another took the lock.
func (k *Keeper) renew(ctx context.Context, w *Work, l *Lease) {
	rctx, cancel := context.WithTimeout(ctx, min(k.OpTimeout, k.Every))
	defer cancel()
	err := l.renew(rctx)
	log := k.Logger()
	switch {
	case err == nil:
	case errors.Is(err, ErrLost):
		log.Warn("job lock lost, cancelling the run", "job", l.key)
		w.Cancel(ErrLost)
		return
	default:
		log.Warn("renewing job lock", "job", l.key, "error", err)
	}
	if !l.fresh() {
		log.Warn("job lock not confirmed for half its TTL, cancelling the run", "job", l.key, "age", l.age())
		w.Cancel(ErrStale)
	}
}
