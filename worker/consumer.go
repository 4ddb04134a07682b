package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/startstop"
)

// consumer is the service that takes requests from the shared durable
// consumer and handles each in its own goroutine, at most conc at once.
// The client buffers at most one message per free slot, so that a busy
// replica does not hoard requests an idle one could take.
type consumer struct {
	startstop.Base
	*shared
	rotator         Rotator
	keeper          *lockKeeper
	conc            int
	shutdownTimeout time.Duration

	bound     atomic.Bool     // the loop is pulling
	runCtx    context.Context // parent of in-flight work; cancelled after the shutdown timeout
	cancelRun context.CancelCauseFunc
	iter      jetstream.MessagesContext
	stopC     chan struct{} // closed when Stop begins
	inflight  sync.WaitGroup
}

// Start binds the consumer and launches the loop.
func (c *consumer) Start(ctx context.Context) error {
	_, ok, stopped := c.StartInit(ctx)
	if !ok {
		return nil
	}
	b := c.bus()
	if b == nil {
		stopped()
		return errNotConnected
	}
	iter, err := b.cons.Messages(jetstream.PullMaxMessages(c.conc))
	if err != nil {
		stopped()
		return fmt.Errorf("consuming %s/%s: %w", contract.RequestsStream, contract.ConsumerName, err)
	}
	c.runCtx, c.cancelRun = context.WithCancelCause(context.WithoutCancel(ctx))
	c.iter, c.stopC = iter, make(chan struct{})
	c.bound.Store(true)
	go func() {
		defer stopped()
		c.loop(iter, c.stopC)
	}()
	return nil
}

// loop takes a slot, then a message, and handles it in its own goroutine.
// It ends when the iterator is drained; messages still buffered then are
// nak'd so that another replica takes them at once.
func (c *consumer) loop(iter jetstream.MessagesContext, stopC <-chan struct{}) {
	defer c.bound.Store(false)
	sem := make(chan struct{}, c.conc)
	for {
		select {
		case sem <- struct{}{}:
		case <-stopC:
			nakBuffered(iter)
			return
		}
		if !c.runOnce(iter, stopC, sem) {
			return
		}
	}
}

// runOnce takes the next message and hands it to a goroutine holding the
// slot the caller took. It returns false once the iterator is closed.
func (c *consumer) runOnce(iter jetstream.MessagesContext, stopC <-chan struct{}, sem chan struct{}) bool {
	msg, err := iter.Next()
	if err != nil {
		<-sem
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return false
		}
		c.log.Warn("pulling requests", "error", err)
		return true
	}
	select {
	case <-stopC:
		<-sem
		_ = msg.Nak()
		return true
	default:
	}
	c.inflight.Add(1)
	go func() {
		defer func() { <-sem; c.inflight.Done() }()
		c.handle(msg)
	}()
	return true
}

// nakBuffered hands back what the drained iterator still holds.
func nakBuffered(iter jetstream.MessagesContext) {
	for {
		msg, err := iter.Next()
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// Stop drains the iterator, waits for in-flight requests up to the
// shutdown timeout or ctx, then cancels them and waits for their naks.
func (c *consumer) Stop(ctx context.Context) error {
	ok, cancel, done := c.StopInit()
	if !ok {
		return nil
	}
	defer cancel()
	c.bound.Store(false)
	close(c.stopC)
	c.iter.Drain()
	<-done // the loop has ended; handlers may still run
	finished := make(chan struct{})
	go func() { c.inflight.Wait(); close(finished) }()
	timer := time.NewTimer(c.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-finished:
		c.cancelRun(nil)
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	c.log.Warn("cancelling in-flight rotations", "timeout", c.shutdownTimeout)
	c.cancelRun(errShuttingDown)
	// Cancelled runs nak their requests at once; wait for that, within
	// what is left of the stop budget.
	grace := time.NewTimer(2 * c.tune.opTimeout)
	defer grace.Stop()
	select {
	case <-finished:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	return errors.New("stopping the consumer: in-flight requests did not end after cancellation")
}
