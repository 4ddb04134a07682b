package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// publishOutcome records the outcome as the connector's latest in the
// status bucket (with store, and not for expiring warnings: the status
// keeps the latest rotation outcome), then publishes its event on
// subjectJob's result subject and waits for the stream's ack. Status goes
// first so that whoever sees the event finds the status up to date.
func (s *results) publishOutcome(ctx context.Context, o jobs.Outcome, subjectJob string, store bool) error {
	return s.publishEvent(ctx, contract.NewEvent(s.instance, o, s.Now()), subjectJob, store)
}

// publishEvent is publishOutcome for an event already made: a republished
// event keeps its id, so the results stream drops the copy.
func (s *results) publishEvent(ctx context.Context, ev contract.Event, subjectJob string, store bool) error {
	o := ev.Data
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	if store && !o.Warning() {
		if err := s.storeStatus(ctx, b.status, o); err != nil {
			return err
		}
	}
	if err := client.PublishEvent(ctx, b.js, contract.ResultSubjectOf(s.prefix, subjectJob, o), ev); err != nil {
		return err
	}
	s.metrics.observeOutcome(o, s.jobLabel(o.Job))
	return nil
}

// storeStatus writes the outcome as the connector's status record, carrying
// over the active certificate and the last success from the record it
// replaces, so that a later skipped run does not hide when the certificate
// was uploaded. A success that replaces both writes without reading.
func (s *results) storeStatus(ctx context.Context, kv jetstream.KeyValue, o jobs.Outcome) error {
	key := contract.StatusKeyOf(o)
	var prev *contract.StatusRecord
	if contract.ReadsPrevious(o) {
		entry, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("reading status %s: %w", key, err)
		default:
			var rec contract.StatusRecord
			if json.Unmarshal(entry.Value(), &rec) == nil {
				prev = &rec
			}
		}
	}
	data, err := json.Marshal(contract.NextStatus(prev, o, s.Now()))
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("storing status %s: %w", key, err)
	}
	return nil
}
