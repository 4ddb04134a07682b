package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

var (
	// errLockBusy: another replica held the job's lock for the whole wait.
	errLockBusy = errors.New("worker: job locked by another replica")
	// errLockLost: the lock expired or was taken while this replica worked.
	errLockLost = errors.New("worker: job lock lost")
)

// lease is a held job lock: key <job> in the locks bucket, taken by create,
// kept alive by compare-and-set updates, released by a delete that only
// succeeds while it is still ours.
type lease struct {
	kv    jetstream.KeyValue
	key   string
	value []byte
	rev   atomic.Uint64
}

// acquire takes the job's lock, waiting in-process while another replica
// holds it: the request keeps its slot and sends InProgress meanwhile, so
// lock contention does not spend deliveries (max_attempts). After lockWait
// it gives up with errLockBusy and the caller naks with a short delay, which
// does spend one delivery.
func (w *Worker) acquire(ctx context.Context, job string, seq uint64) (*lease, error) {
	l := &lease{kv: w.locks, key: job, value: fmt.Appendf(nil, "%s seq=%d", w.app.Instance, seq)}
	deadline := time.NewTimer(w.tune.lockWait)
	defer deadline.Stop()
	for announced := false; ; announced = true {
		rev, err := w.opCreate(ctx, l)
		if err == nil {
			l.rev.Store(rev)
			return l, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("taking lock %s: %w", job, err)
		}
		if !announced {
			w.log.Debug("job locked elsewhere, waiting", "job", job, "holder", w.lockHolder(ctx, job))
			if w.tune.onLockBusy != nil {
				w.tune.onLockBusy(job)
			}
		}
		poll := time.NewTimer(jitter(w.tune.lockPoll, 0.5))
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, context.Cause(ctx)
		case <-deadline.C:
			poll.Stop()
			return nil, errLockBusy
		case <-poll.C:
		}
	}
}

func (w *Worker) opCreate(ctx context.Context, l *lease) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, w.tune.opTimeout)
	defer cancel()
	return l.kv.Create(ctx, l.key, l.value)
}

// lockHolder names who holds the job's lock, for logs.
func (w *Worker) lockHolder(ctx context.Context, job string) string {
	ctx, cancel := context.WithTimeout(ctx, w.tune.opTimeout)
	defer cancel()
	e, err := w.locks.Get(ctx, job)
	if err != nil {
		return ""
	}
	return string(e.Value())
}

// renew extends the lease. It returns errLockLost when the lock is no
// longer ours, or another error when NATS did not answer (the lease may
// still be alive: the caller tries again on the next beat).
func (l *lease) renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.key, l.value, l.rev.Load())
	switch {
	case err == nil:
		l.rev.Store(rev)
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound),
		errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("renewing lock %s: %w", l.key, errLockLost)
	default:
		return fmt.Errorf("renewing lock %s: %w", l.key, err)
	}
}

// release deletes the lock if it is still ours.
func (l *lease) release(ctx context.Context) error {
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev.Load())); err != nil {
		return fmt.Errorf("releasing lock %s: %w", l.key, err)
	}
	return nil
}

// heartbeat runs while a request is handled: every keepAlive it tells
// JetStream the message is in progress (so AckWait does not redeliver it)
// and renews the lease once there is one. Losing the lease cancels the
// work with errLockLost. The returned func stops it and waits.
func (w *Worker) heartbeat(ctx context.Context, msg jetstream.Msg, l *atomic.Pointer[lease], cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(w.tune.keepAlive)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := msg.InProgress(); err != nil {
				w.log.Warn("extending ack wait", "error", err)
			}
			if ls := l.Load(); ls != nil {
				w.renewOnce(ctx, ls, cancel)
			}
		}
	}()
	return func() { close(done); <-ended }
}

func (w *Worker) renewOnce(ctx context.Context, ls *lease, cancel context.CancelCauseFunc) {
	rctx, rcancel := context.WithTimeout(ctx, w.tune.opTimeout)
	defer rcancel()
	err := ls.renew(rctx)
	switch {
	case err == nil:
	case errors.Is(err, errLockLost):
		w.log.Warn("job lock lost, cancelling the run", "job", ls.key)
		cancel(errLockLost)
	default:
		w.log.Warn("renewing job lock", "job", ls.key, "error", err)
	}
}
