package jobs

import (
	"context"
	"time"
)

type turnKey struct{}

// WithTurn returns a context whose calls queue under a rate budget as work
// that came in at t. The worker passes the request's time in the requests
// stream, which a redelivery keeps, so that the calls of a tenant are served
// in the order their requests came in: a run's tenth call goes before the
// first call of a request that came later, and a request retried after a
// refused wait keeps its place. Without a turn a call queues as of the
// moment it asks.
func WithTurn(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, turnKey{}, t)
}

// TurnOf returns the turn WithTurn gave ctx, if any.
func TurnOf(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(turnKey{}).(time.Time)
	return t, ok
}

// WaitBound returns the latest wall-clock time a call of ctx may still be
// waiting for its turn under a rate budget: the earlier of ctx's deadline
// and its lease's Until. A run holds its job's lock while it waits; a turn
// that comes only after the lease could be renewed no more is refused at
// once, so that the run ends transient, gives the lock back and is retried
// when the budget has room. A lease no longer held bounds the wait at now.
// ok is false when nothing bounds the wait.
func WaitBound(ctx context.Context) (time.Time, bool) {
	bound, ok := ctx.Deadline()
	l, has := ctx.Value(leaseKey{}).(Lease)
	if !has {
		return bound, ok
	}
	until, err := l.Until()
	if err != nil {
		return time.Now(), true
	}
	if !ok || until.Before(bound) {
		return until, true
	}
	return bound, true
}
