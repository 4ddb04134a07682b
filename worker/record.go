package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// record is a run's true result: its outcome events and how its message is
// settled. A final one is kept in the outcomes bucket (key seq-<stream
// sequence>) from before its events are published until its message is
// settled, so that when publishing or acking fails, the redelivery tells the
// same outcome with the same event ids instead of running again and
// reporting `already_present` for a rotation that succeeded.
type record struct {
	Decision decision         `json:"decision"`
	Events   []contract.Event `json:"events"`
}

// conclude turns a run's outcomes into its record: outcomes finalized,
// settling decided, one CloudEvent each.
func conclude(instance string, now time.Time, job jobs.Job, req jobs.Request, outcomes []jobs.Outcome, backoff func(int) time.Duration) record {
	finalize(outcomes, job, req)
	rec := record{Decision: settle(outcomes, req.Attempt, backoff), Events: make([]contract.Event, len(outcomes))}
	for i, o := range outcomes {
		rec.Events[i] = contract.NewEvent(instance, o, now)
	}
	return rec
}

func recordKey(seq uint64) string { return "seq-" + strconv.FormatUint(seq, 10) }

// loadRecord returns the record kept for the request at seq, if any. A
// failed read counts as none: the request then runs, and its re-read of
// the connector keeps the upload exactly-once.
func (s *shared) loadRecord(ctx context.Context, seq uint64) (record, bool) {
	b := s.bus()
	if b == nil {
		return record{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	e, err := b.outcomes.Get(ctx, recordKey(seq))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("reading kept outcome", "seq", seq, "error", err)
		}
		return record{}, false
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil || len(rec.Events) == 0 {
		return record{}, false
	}
	return rec, true
}

// storeRecord keeps rec for the request at seq.
func (s *shared) storeRecord(ctx context.Context, seq uint64, rec record) error {
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding outcome record: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	if _, err := b.outcomes.Put(ctx, recordKey(seq), data); err != nil {
		return fmt.Errorf("keeping outcome record %s: %w", recordKey(seq), err)
	}
	return nil
}

// dropRecord deletes the record once its message is settled; a failure
// leaves it to the bucket's TTL.
func (s *shared) dropRecord(ctx context.Context, seq uint64) {
	b := s.bus()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	if err := b.outcomes.Delete(ctx, recordKey(seq)); err != nil {
		s.log.Debug("dropping outcome record", "seq", seq, "error", err)
	}
}
