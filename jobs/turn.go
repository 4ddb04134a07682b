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
// waiting for its turn under a rate budget: ctx's deadline, or now once
// ctx's lease is no longer surely held. A run holds its job's lock while it
// waits and the lock is renewed meanwhile, so the wait is bounded by the
// lease as renewed, not by the Until it had when the wait began: runs sent
// back at their first Until came back later than their turn, and the budget
// idled meanwhile. A budget asks again once the turn has come, so that a
// run that lost its lock while it waited never sends (and the worker
// cancels such a run). ok is false when nothing bounds the wait.
func WaitBound(ctx context.Context) (time.Time, bool) {
	bound, ok := ctx.Deadline()
	if l, has := ctx.Value(leaseKey{}).(Lease); has {
		if _, err := l.Until(); err != nil {
			return time.Now(), true
		}
	}
	return bound, ok
}
