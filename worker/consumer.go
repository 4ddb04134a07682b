package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/internal/testsignal"
	"github.com/certrotator/certrotator/worker/lease"
)

// consumer is the service that takes requests from the shared durable
// consumer and handles each in its own goroutine, at most conc at once.
// It pulls only as many requests as it has free slots (see loop), so that
// it never holds a request it cannot start: one held would age towards the
// ack wait unseen while an idle replica could take it, and would share the
// pull's inbox with the server's heartbeats and status messages, which
// then overflowed it (`slow consumer, messages dropped`) and lost
// deliveries.
type consumer struct {
	startstop.Base
	baseservice.BaseService
	*results
	rotator         Rotator
	locker          *lease.Locker
	keeper          *lease.Keeper
	conc            int
	shutdownTimeout time.Duration
	// backoff paces naks after transient failures; contention is the nak
	// delay once a lock stayed busy (jittered up to 2x); runTimeout bounds
	// one Rotate call; pullWait one pull (0 is fetchWaitDefault). Tests
	// shrink them.
	backoff                          retry.Backoff
	contention, runTimeout, pullWait time.Duration
	signals                          consumerSignals

	bound     atomic.Bool     // the loop is pulling
	runCtx    context.Context // parent of in-flight work; cancelled after the shutdown timeout
	cancelRun context.CancelCauseFunc
	stopC     chan struct{} // closed when Stop begins
	inflight  sync.WaitGroup
}

// consumerSignals fire at the moments tests wait for; inert unless a
// test arms them.
type consumerSignals struct {
	settled testsignal.Signal[decision] // a request message was settled
}

// consumerOptions are what a consumer needs besides the results.
type consumerOptions struct {
	rotator         Rotator
	locker          *lease.Locker
	keeper          *lease.Keeper
	conc            int
	shutdownTimeout time.Duration
}

func newConsumer(a *baseservice.Archetype, r *results, o consumerOptions) *consumer {
	c := &consumer{results: r, rotator: o.rotator, locker: o.locker, keeper: o.keeper, conc: o.conc, shutdownTimeout: o.shutdownTimeout,
		backoff: defaultBackoff, contention: 2 * time.Second, runTimeout: 10 * time.Minute}
	c.BaseService.Init(a)
	return c
}

// defaultBackoff is the nak delays after transient failures.
var defaultBackoff = retry.Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: 0.1}

// fetchWaitDefault is how long one pull waits on the server for requests.
// It bounds how long Stop waits for the last pull to end (a pull is left to
// expire, never abandoned with messages on their way); an idle replica
// pulls about once per fetchWaitDefault.
const fetchWaitDefault = time.Second

// Start checks that the consumer is there and launches the loop.
func (c *consumer) Start(ctx context.Context) error {
	return c.Launch(ctx, func(context.Context) (func(), error) {
		b := c.bus()
		if b == nil {
			return nil, errNotConnected
		}
		c.runCtx, c.cancelRun = context.WithCancelCause(context.WithoutCancel(ctx))
		c.stopC = make(chan struct{})
		c.bound.Store(true)
		stopC := c.stopC
		return func() { c.loop(b.cons, stopC) }, nil
	})
}

// loop takes every free slot (waiting for one when none is), pulls at most
// that many requests, and hands each to a goroutine holding one slot. A
// pull ends when it has them all or after fetchWait, so a slot freed
// meanwhile waits at most that long, and only while fewer requests than
// the pull asked for came. It ends once Stop begins.
func (c *consumer) loop(cons jetstream.Consumer, stopC <-chan struct{}) {
	defer c.bound.Store(false)
	sem := make(chan struct{}, c.conc)
	for {
		n := takeSlots(sem, stopC)
		if n == 0 {
			return
		}
		got, err := c.runOnce(cons, n, stopC, sem)
		for range n - got {
			<-sem
		}
		if err != nil {
			c.Logger().Warn("pulling requests", "error", err)
			select { // a failing pull is not retried in a hot loop
			case <-stopC:
				return
			case <-time.After(c.fetchWait()):
			}
		}
	}
}

// takeSlots waits for one free slot, then takes every other free one, and
// returns how many it took; 0 when Stop began.
func takeSlots(sem chan struct{}, stopC <-chan struct{}) int {
	select {
	case sem <- struct{}{}:
	case <-stopC:
		return 0
	}
	n := 1
	for n < cap(sem) {
		select {
		case sem <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n
}

// runOnce pulls up to n requests and hands each to a goroutine holding one
// of the n slots the caller took; it returns how many it handed on. A
// request that comes once Stop began is nak'd, so another replica takes it
// at once.
func (c *consumer) runOnce(cons jetstream.Consumer, n int, stopC <-chan struct{}, sem chan struct{}) (int, error) {
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(c.fetchWait()))
	if err != nil {
		return 0, fmt.Errorf("pulling from %s/%s: %w", contract.RequestsStream, contract.ConsumerName, err)
	}
	got := 0
	for msg := range batch.Messages() {
		select {
		case <-stopC:
			_ = msg.Nak()
			continue
		default:
		}
		got++
		c.inflight.Add(1)
		go func() {
			defer func() { <-sem; c.inflight.Done() }()
			c.handle(msg)
		}()
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return got, fmt.Errorf("pulling from %s/%s: %w", contract.RequestsStream, contract.ConsumerName, err)
	}
	return got, nil
}

func (c *consumer) fetchWait() time.Duration {
	if c.pullWait > 0 {
		return c.pullWait
	}
	return fetchWaitDefault
}

// Stop ends the loop (its last pull expires within fetchWait; what it
// brings is nak'd), waits for in-flight requests up to the shutdown timeout
// or ctx, then cancels them and waits for their naks.
func (c *consumer) Stop(ctx context.Context) error {
	ok, cancel, done := c.StopInit()
	if !ok {
		return nil
	}
	defer cancel()
	c.bound.Store(false)
	close(c.stopC)
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
	c.Logger().Warn("cancelling in-flight rotations", "timeout", c.shutdownTimeout)
	c.cancelRun(errShuttingDown)
	// Cancelled runs nak their requests at once; wait for that, within
	// what is left of the stop budget.
	grace := time.NewTimer(2 * c.opTimeout)
	defer grace.Stop()
	select {
	case <-finished:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	return errors.New("stopping the consumer: in-flight requests did not end after cancellation")
}
