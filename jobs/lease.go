package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// CodeLeaseLost is the error code of an upload not made because the job's
// lock could no longer be known to be held: another replica may be
// rotating the same connectors.
const CodeLeaseLost = "lease_lost"

// Lease is the lock a caller holds on a job while it runs a request. Right
// before each upload the pipeline asks it whether the lock is still surely
// held and until when; the upload's context ends by then, unless the lock
// was renewed meanwhile. That is what keeps a replica cut off from NATS,
// whose lock has expired and been taken by another, from uploading an older
// bundle over the newer one.
type Lease interface {
	// Until returns the latest wall-clock time an upload may still run, or
	// an error when the lock is not surely held any more.
	Until() (time.Time, error)
}

type leaseKey struct{}

// WithLease returns a context whose uploads are bounded by l.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// uploadContext bounds one upload by the context's lease, if any, as the
// lease is renewed: the context ends at the lease's Until unless a renewal
// moved Until on by then, in which case it ends at the new one, and so on.
// An upload is never running after the last Until the lease confirmed, and
// a call that waits for its turn under the Graph budget inside the upload
// (the budget checks the lease again before the call is sent) is not cut at
// the first Until while its lock is still renewed: cut there, it came back
// later than its turn and the budget idled meanwhile. A lease no longer
// held fails transiently with CodeLeaseLost: the request is retried, and its
// re-read of the connector decides afresh.
func uploadContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	l, ok := ctx.Value(leaseKey{}).(Lease)
	if !ok {
		return ctx, func() {}, nil
	}
	until, err := l.Until()
	if err != nil {
		return nil, nil, leaseLost(err)
	}
	uctx, cancel := context.WithCancelCause(ctx)
	w := &leaseWatch{lease: l, cancel: cancel}
	w.mu.Lock()
	w.timer = time.AfterFunc(time.Until(until), w.check)
	w.mu.Unlock()
	return uctx, func() {
		w.stop()
		cancel(context.Canceled)
	}, nil
}

// leaseWatch ends an upload's context once its lease's Until has passed
// without a renewal.
type leaseWatch struct {
	lease  Lease
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// check runs at the last Until: it waits on to the next one when the lease
// was renewed, else ends the context.
func (w *leaseWatch) check() {
	until, err := w.lease.Until()
	if left := time.Until(until); err == nil && left > 0 {
		w.mu.Lock()
		if !w.stopped {
			w.timer.Reset(left)
		}
		w.mu.Unlock()
		return
	}
	if err == nil {
		err = errors.New("not renewed before its horizon")
	}
	w.cancel(leaseLost(err))
}

func (w *leaseWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

func leaseLost(err error) error {
	return Transient(CodeLeaseLost, fmt.Errorf("checking the job lock before uploading: %w", err))
}
