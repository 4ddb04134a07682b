package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// publishOutcome records the outcome as the connector's latest in the
// status bucket (with store, and not for expiring warnings: the status
// keeps the latest rotation outcome), then publishes its event on
// subjectJob's result subject and waits for the stream's ack. Status goes
// first so that whoever sees the event finds the status up to date.
func (s *shared) publishOutcome(ctx context.Context, o jobs.Outcome, subjectJob string, store bool) error {
	return s.publishEvent(ctx, contract.NewEvent(s.instance, o, s.now()), subjectJob, store)
}

// publishEvent is publishOutcome for an event already made: a republished
// event keeps its id, so the results stream drops the copy.
func (s *shared) publishEvent(ctx context.Context, ev contract.Event, subjectJob string, store bool) error {
	o := ev.Data
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	if store && o.Status != jobs.StatusExpiring {
		data, err := json.Marshal(o)
		if err != nil {
			return fmt.Errorf("encoding status: %w", err)
		}
		key := contract.StatusKey(o.Job, o.Connector)
		if _, err := b.status.Put(ctx, key, data); err != nil {
			return fmt.Errorf("storing status %s: %w", key, err)
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding outcome event: %w", err)
	}
	msg := &nats.Msg{Subject: contract.ResultSubject(s.prefix, subjectJob, o.Connector), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", contract.EventContentType)
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publishing outcome on %s: %w", msg.Subject, err)
	}
	s.metrics.observeOutcome(o, s.jobLabel(o.Job))
	return nil
}

// publishEvents publishes every event of a run, stopping at the first
// error.
func (s *shared) publishEvents(ctx context.Context, events []contract.Event) error {
	for _, ev := range events {
		if err := s.publishEvent(ctx, ev, ev.Data.Job, true); err != nil {
			return err
		}
	}
	return nil
}
