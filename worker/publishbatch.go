package worker

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
)

// publishBatch is how many of a run's outcomes publishEvents sends before
// it waits for their acks.
const publishBatch = 64

// publishEvents publishes every event of a run, as publishEvent does one
// (each connector's status before its event), stopping at the first
// error. A batch's statuses are stored, then its events go out without
// waiting for each ack before the next, and their acks are awaited
// together: one at a time, a run of 25 connectors waited for 25 event
// round trips in a row, each a write of its own on the connection.
func (s *results) publishEvents(ctx context.Context, events []contract.Event) error {
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	for batch := range slices.Chunk(events, publishBatch) {
		if err := s.storeStatuses(ctx, b, batch); err != nil {
			return err
		}
		if err := s.sendEvents(ctx, b, batch); err != nil {
			return err
		}
	}
	return nil
}

// pending is a publish not yet acked, and what it was doing.
type pending struct {
	ack  jetstream.PubAckFuture
	what string
}

// storeStatuses writes the batch's statuses one at a time. Written without
// waiting for each ack, they reached the status view's watch in bursts
// that it buffered: the worker's peak RSS at 10,000 connectors went from
// 91 to 95–107 MB for 0.1 s of CPU.
func (s *results) storeStatuses(ctx context.Context, b *bus, events []contract.Event) error {
	for _, ev := range events {
		if ev.Data.Warning() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, s.opTimeout)
		err := s.storeStatus(sctx, b.status, ev.Data)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// sendEvents publishes the batch's events with their ids as Msg-Id and
// counts them once the stream has them all.
func (s *results) sendEvents(ctx context.Context, b *bus, events []contract.Event) error {
	acks := make([]pending, 0, len(events))
	for _, ev := range events {
		subject := contract.ResultSubjectOf(s.prefix, ev.Data.Job, ev.Data)
		msg, err := client.EventMsg(subject, ev)
		if err != nil {
			return err
		}
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
		if err != nil {
			return fmt.Errorf("publishing event on %s: %w", subject, err)
		}
		acks = append(acks, pending{ack: f, what: "publishing event on " + subject})
	}
	if err := s.await(ctx, acks); err != nil {
		return err
	}
	for _, ev := range events {
		s.metrics.observeOutcome(ev.Data, s.jobLabel(ev.Data.Job))
	}
	return nil
}

// await waits for every ack, up to one NATS round trip's time for them
// all, and returns the first failure.
func (s *results) await(ctx context.Context, acks []pending) error {
	if len(acks) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	for _, p := range acks {
		select {
		case <-p.ack.Ok():
		case err := <-p.ack.Err():
			return fmt.Errorf("%s: %w", p.what, err)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", p.what, ctx.Err())
		}
	}
	return nil
}
