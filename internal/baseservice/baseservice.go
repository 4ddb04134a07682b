// Package baseservice is the archetype the worker's services start from,
// after river's rivershared/baseservice: a logger and the two clocks, and
// nothing else. Each service embeds a BaseService and takes everything else it
// uses (buckets, knobs, jobs) through its own constructor, so that what a
// service needs is written where it is built, not found in a struct every
// service shares.
//
// Besides, the services share the loop of those that work on a schedule
// (Repeat) and the error of a service that runs before the worker
// provisioned what it uses (ErrNotConnected).
//
// The archetype is shared by reference: a test that swaps the clock before
// Start swaps it for every service of the worker at once.
package baseservice

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/certrotator/certrotator/internal/retry"
)

// ErrNotConnected is returned by a service that needs the worker's NATS
// handles (its JetStream, a bucket) before the worker provisioned them or
// after it closed them. It is one error for every service, so that the
// worker's /readyz names it whichever service met it.
var ErrNotConnected = errors.New("worker: not connected to NATS")

// Archetype is what every service of one worker has in common.
type Archetype struct {
	// Logger is the worker's logger.
	Logger *slog.Logger
	// Now stamps events and status records (the worker's Config.NowFunc).
	Now func() time.Time
	// Clock times sleeps, waits and schedules; tests replace it.
	Clock retry.Clock
}

// NewArchetype returns an archetype on logger (a discarding one when nil),
// now (time.Now when nil) and the system clock.
func NewArchetype(logger *slog.Logger, now func() time.Time) *Archetype {
	if now == nil {
		now = time.Now
	}
	return &Archetype{Logger: cmp.Or(logger, slog.New(slog.DiscardHandler)), Now: now, Clock: retry.System}
}

// BaseService is embedded by every service. The zero BaseService logs nothing and runs
// on the system clocks, so that a service built in a test without an
// archetype still works.
type BaseService struct {
	arch *Archetype
	log  *slog.Logger
}

// Init sets the service's archetype. Call it from the service's
// constructor.
func (b *BaseService) Init(a *Archetype) {
	b.arch = a
	b.log = a.Logger
}

// Logger is the service's logger.
func (b *BaseService) Logger() *slog.Logger {
	if b.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.log
}

// Now is the time that stamps events.
func (b *BaseService) Now() time.Time {
	if b.arch == nil || b.arch.Now == nil {
		return time.Now()
	}
	return b.arch.Now()
}

// Clock is the clock of sleeps and waits, read at each call: a test may
// replace the archetype's after the service was built.
func (b *BaseService) Clock() retry.Clock {
	if b.arch == nil || b.arch.Clock == nil {
		return retry.System
	}
	return b.arch.Clock
}

// Repeat runs step, sleeps on the service's clock for as long as step
// returns, and again, until ctx ends: the loop of the services that work on
// a schedule (the scheduler, the watches, the inventory). A step that
// returns zero or less runs again at once; one that has nothing left to
// wait for blocks until ctx ends.
func (b *BaseService) Repeat(ctx context.Context, step func(context.Context) time.Duration) {
	for {
		if retry.Sleep(ctx, b.Clock(), step(ctx)) != nil {
			return
		}
	}
}
