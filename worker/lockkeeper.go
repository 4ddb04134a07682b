package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/startstop"
)

// lockKeeper is the service that keeps requests in flight alive: every
// keepAlive it tells JetStream each tracked message is in progress (so
// AckWait does not redeliver it to another replica) and renews the job
// lease the request holds. A lease found lost cancels that request's run
// with errLockLost.
type lockKeeper struct {
	startstop.Base
	*shared

	mu      sync.Mutex
	tracked map[*work]struct{}
}

// work is one request in flight as the keeper sees it.
type work struct {
	msg    jetstream.Msg
	lease  atomic.Pointer[lease] // set once the job's lock is held
	cancel context.CancelCauseFunc
}

// Start launches the keep-alive loop.
func (k *lockKeeper) Start(ctx context.Context) error {
	ctx, ok, stopped := k.StartInit(ctx)
	if !ok {
		return nil
	}
	go func() {
		defer stopped()
		t := time.NewTicker(k.tune.keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				k.runOnce(ctx)
			}
		}
	}()
	return nil
}

// track adds a request in flight; the returned func removes it.
func (k *lockKeeper) track(w *work) (untrack func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tracked == nil {
		k.tracked = map[*work]struct{}{}
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
func (k *lockKeeper) runOnce(ctx context.Context) {
	k.mu.Lock()
	all := make([]*work, 0, len(k.tracked))
	for w := range k.tracked {
		all = append(all, w)
	}
	k.mu.Unlock()
	for _, w := range all {
		if err := w.msg.InProgress(); err != nil {
			k.log.Warn("extending ack wait", "error", err)
		}
		if l := w.lease.Load(); l != nil {
			k.renew(ctx, w, l)
		}
	}
}

// renew extends one lease. Any failure that leaves the lease unconfirmed
// for half its TTL cancels the run, whatever the cause: a replica cut off
// from NATS cannot know whether another took the lock.
func (k *lockKeeper) renew(ctx context.Context, w *work, l *lease) {
	rctx, cancel := context.WithTimeout(ctx, min(k.tune.opTimeout, k.tune.keepAlive))
	defer cancel()
	err := l.renew(rctx)
	switch {
	case err == nil:
	case errors.Is(err, errLockLost):
		k.log.Warn("job lock lost, cancelling the run", "job", l.key)
		w.cancel(errLockLost)
		return
	default:
		k.log.Warn("renewing job lock", "job", l.key, "error", err)
	}
	if !l.fresh() {
		k.log.Warn("job lock not confirmed for half its TTL, cancelling the run", "job", l.key, "age", l.age())
		w.cancel(errLeaseStale)
	}
}
