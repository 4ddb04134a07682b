package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startConsuming binds the durable consumer and launches the loop. The
// client buffers at most one message per free slot, so that a busy replica
// does not hoard requests an idle one could take.
func (w *Worker) startConsuming() error {
	iter, err := w.cons.Messages(jetstream.PullMaxMessages(w.conc))
	if err != nil {
		return fmt.Errorf("consuming %s/%s: %w", RequestsStream, ConsumerName, err)
	}
	w.iter = iter
	w.loopDone = make(chan struct{})
	w.stopC = make(chan struct{})
	w.bound.Store(true)
	go w.consumeLoop(iter)
	return nil
}

// consumeLoop takes a slot, then a message, and handles it in its own
// goroutine. It ends when the iterator is drained; messages still buffered
// then are nak'd so that another replica takes them at once.
func (w *Worker) consumeLoop(iter jetstream.MessagesContext) {
	defer close(w.loopDone)
	defer w.bound.Store(false)
	sem := make(chan struct{}, w.conc)
	for {
		select {
		case sem <- struct{}{}:
		case <-w.stopC:
			w.nakBuffered(iter)
			return
		}
		msg, err := iter.Next()
		if err != nil {
			<-sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			w.log.Warn("pulling requests", "error", err)
			continue
		}
		if w.stopping() {
			<-sem
			_ = msg.Nak()
			continue
		}
		w.inflight.Add(1)
		go func() {
			defer func() { <-sem; w.inflight.Done() }()
			w.handle(msg)
		}()
	}
}

// stopping reports whether Stop has begun; the iterator may still hand out
// buffered messages, which are handed back.
func (w *Worker) stopping() bool {
	select {
	case <-w.stopC:
		return true
	default:
		return false
	}
}

// nakBuffered hands back what the drained iterator still holds.
func (w *Worker) nakBuffered(iter jetstream.MessagesContext) {
	for {
		msg, err := iter.Next()
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// stopConsuming drains the iterator, waits for in-flight requests up to the
// shutdown timeout or ctx, then cancels them and waits for their naks.
func (w *Worker) stopConsuming(ctx context.Context) error {
	if w.iter == nil {
		return nil
	}
	w.bound.Store(false)
	close(w.stopC)
	w.iter.Drain()
	<-w.loopDone
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	timer := time.NewTimer(w.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	w.log.Warn("cancelling in-flight rotations", "timeout", w.cfg.ShutdownTimeout)
	w.cancelRun(errShuttingDown)
	select {
	case <-done:
		return nil
	case <-time.After(2 * w.tune.opTimeout):
		return errors.New("stopping the consumer: in-flight requests did not end after cancellation")
	}
}
