// Package startstop gives every long-running part of certrotator the same
// lifecycle, after riverqueue/river's startstop: Start launches the
// service's goroutines and returns, Stop ends them and waits; both are
// idempotent, Stop is safe before Start, and a stopped service can be
// started again.
//
// A service embeds Base and writes its Start as
//
//	ctx, ok, stopped := s.StartInit(ctx)
//	if !ok { return nil }         // already running
//	if err := s.open(); err != nil { stopped(); return err }
//	go func() { defer stopped(); s.loop(ctx) }()
//
// or, the common case, hands Launch the part between the two:
//
//	return s.Launch(ctx, func(ctx context.Context) (func(), error) {
//		if err := s.open(); err != nil { return nil, err }
//		return func() { s.loop(ctx) }, nil
//	})
//
// and either uses Base.Stop (cancel, then wait) or builds its own from
// StopInit when it must drain before cancelling.
package startstop

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Service is what the worker starts in dependency order and stops in
// reverse.
type Service interface {
	// Start launches the service and returns once it runs, or with the
	// error that kept it from running (having undone what it did). It
	// returns nil at once when the service already runs. ctx bounds the
	// start itself; the service's own work outlives it until Stop.
	Start(ctx context.Context) error
	// Stop ends the service and waits for its goroutines, for no longer
	// than ctx allows. It returns nil when the service is not running.
	Stop(ctx context.Context) error
}

// Base holds the run state of one service. Its zero value is a stopped
// service. It is safe for concurrent use; a Stop that races another Stop
// returns at once while the first one waits.
type Base struct {
	mu      sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// StartInit begins a start. ok is false when the service already runs. ctx
// is the service's run context: detached from the caller's cancellation,
// cancelled by Stop. stopped must be called exactly once when the service's
// goroutines have ended, or at once when the start fails; it is what Stop
// waits for.
func (b *Base) StartInit(ctx context.Context) (runCtx context.Context, ok bool, stopped func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		return ctx, false, func() {}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	b.running, b.cancel, b.done = true, cancel, done
	var once sync.Once
	return runCtx, true, func() {
		once.Do(func() {
			b.mu.Lock()
			if b.done == done {
				b.running = false
			}
			b.mu.Unlock()
			cancel()
			close(done)
		})
	}
}

// Launch starts the service in one call: it returns nil at once when the
// service already runs; otherwise open prepares the run with the run
// context (see StartInit) and returns what the service's goroutine runs.
// When open fails, or returns no run because the service has nothing to
// do, the service counts as stopped again and open's error is returned.
func (b *Base) Launch(ctx context.Context, open func(runCtx context.Context) (run func(), err error)) error {
	runCtx, ok, stopped := b.StartInit(ctx)
	if !ok {
		return nil
	}
	run, err := open(runCtx)
	if err != nil || run == nil {
		stopped()
		return err
	}
	go func() {
		defer stopped()
		run()
	}()
	return nil
}

// StopInit begins a stop. ok is false when the service does not run (never
// started, already stopped, or stopping in another goroutine). Otherwise
// the caller owns the stop: it calls cancel when the run context must end
// and waits on done.
func (b *Base) StopInit() (ok bool, cancel context.CancelFunc, done <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return false, nil, nil
	}
	b.running = false
	return true, b.cancel, b.done
}

// Stop cancels the run context and waits for the service's goroutines.
func (b *Base) Stop(ctx context.Context) error {
	ok, cancel, done := b.StopInit()
	if !ok {
		return nil
	}
	cancel()
	return Wait(ctx, done, "service")
}

// Running reports whether the service has started and not begun stopping.
func (b *Base) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// Wait waits for done, or returns an error naming what when ctx ends first.
func Wait(ctx context.Context, done <-chan struct{}, what string) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping %s: %w", what, context.Cause(ctx))
	}
}

// StartAll starts services in order. When one fails, it stops the ones
// already started, in reverse order, and returns the start error.
func StartAll(ctx context.Context, services ...Service) error {
	for i, s := range services {
		if err := s.Start(ctx); err != nil {
			_ = StopAll(context.WithoutCancel(ctx), services[:i]...)
			return err
		}
	}
	return nil
}

// StopAll stops services in reverse order, every one even when some fail,
// and returns the errors joined.
func StopAll(ctx context.Context, services ...Service) error {
	var errs []error
	for i := len(services) - 1; i >= 0; i-- {
		if err := services[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
