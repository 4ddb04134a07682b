package jobs

import (
	"context"
	"fmt"
	"time"
)

// CodeLeaseLost is the error code of an upload not made because the job's
// lock could no longer be known to be held: another replica may be
// rotating the same connectors.
const CodeLeaseLost = "lease_lost"

// Lease is the lock a caller holds on a job while it runs a request. Right
// before each upload the pipeline asks it whether the lock is still surely
// held and until when; the upload's context ends by then. That is what keeps
// a replica cut off from NATS, whose lock has expired and been taken by
// another, from uploading an older bundle over the newer one.
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

// uploadContext bounds one upload by the context's lease, if any. A lease
// no longer held fails transiently with CodeLeaseLost: the request is
// retried, and its re-read of the connector decides afresh.
func uploadContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	l, ok := ctx.Value(leaseKey{}).(Lease)
	if !ok {
		return ctx, func() {}, nil
	}
	until, err := l.Until()
	if err != nil {
		return nil, nil, Transient(CodeLeaseLost, fmt.Errorf("checking the job lock before uploading: %w", err))
	}
	uctx, cancel := context.WithDeadline(ctx, until)
	return uctx, cancel, nil
}
