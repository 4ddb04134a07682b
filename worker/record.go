package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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
//
// A run that is retried (nak) although some of its connectors reached a
// final outcome keeps a partial record: those connectors (Done) and their
// final events. The retry runs the other connectors only, so that every
// connector of a request gets exactly one final outcome.
type record struct {
	Decision decision         `json:"decision"`
	Events   []contract.Event `json:"events"`
	Done     []string         `json:"done,omitempty"` // set on a partial record
	// Published says a partial record's events went out, so a retry
	// publishes only its own.
	Published bool `json:"published,omitempty"`
	// Intents names the connectors whose upload intent (see intents) an
	// attempt of this request put, so that they are dropped with the
	// record once the request is settled.
	Intents []string `json:"intents,omitempty"`
}

// kept is what to keep for this run, given the earlier attempts' partial
// record: the whole record when the request is settled for good (the
// earlier final events included), a partial record when it is retried and
// some connectors are done, nil when there is nothing to keep.
func (r record) kept(earlier record) *record {
	if r.Decision.Action != actNak {
		all := r
		all.Events = append(append([]contract.Event(nil), earlier.Events...), r.Events...)
		return &all
	}
	// Published stays false until this attempt's publish succeeds: a
	// failure then republishes all of them, never loses one.
	p := record{Decision: r.Decision, Events: append([]contract.Event(nil), earlier.Events...), Done: append([]string(nil), earlier.Done...), Intents: r.Intents}
	for _, ev := range r.Events {
		if o := ev.Data; o.Final && o.Connector != "" && !o.Warning() {
			p.Events = append(p.Events, ev)
			p.Done = append(p.Done, o.Connector)
		}
	}
	if len(p.Done) == 0 {
		return nil
	}
	return &p
}

// remaining is the targets (connectors, then key sets) of the request not
// yet done.
func remaining(job jobs.Job, req jobs.Request, done []string) []string {
	skip := make(map[string]bool, len(done))
	for _, id := range done {
		skip[strings.ToLower(id)] = true
	}
	var out []string
	for _, ref := range inPlay(job, req) {
		if !skip[strings.ToLower(ref.ID)] {
			out = append(out, ref.ID)
		}
	}
	for _, ref := range jobs.KeySetsInPlay(job, req) {
		if !skip[strings.ToLower(ref.ID)] {
			out = append(out, ref.ID)
		}
	}
	return out
}

// conclude turns a run's outcomes into its record: outcomes finalized,
// settling decided, one CloudEvent each.
//
// A run cut short by shutdown (interrupted) keeps what finished and hands
// the rest back: its transient failures are the cancellation, not a
// verdict, so none is made final (not even on the last attempt) and none is
// published; the message is nak'd at once for another replica. Its
// finished connectors become the partial record like any retried run's.
func conclude(instance string, now time.Time, job jobs.Job, req jobs.Request, outcomes []jobs.Outcome, backoff func(int) time.Duration, interrupted bool) record {
	finalize(outcomes, job, req)
	cut := false
	if interrupted {
		n := len(outcomes)
		outcomes = slices.DeleteFunc(outcomes, func(o jobs.Outcome) bool {
			return o.Status == contract.StatusFailed && o.Error != nil && o.Error.Class == jobs.ClassTransient
		})
		cut = len(outcomes) < n
	}
	rec := record{Decision: settle(outcomes, req.Attempt, backoff), Events: make([]contract.Event, len(outcomes))}
	for i, o := range outcomes {
		rec.Events[i] = contract.NewEvent(instance, o, now)
	}
	if cut {
		rec.Decision = decision{Action: actNak}
	}
	return rec
}

func recordKey(seq uint64) string { return contract.SeqID(seq) }

// loadRecord returns the record kept for the request at seq, if any. A
// failed read counts as none: the request then runs, and its re-read of
// the connector keeps the upload exactly-once.
func (s *results) loadRecord(ctx context.Context, seq uint64) (record, bool) {
	b := s.bus()
	if b == nil {
		return record{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	e, err := b.outcomes.Get(ctx, recordKey(seq))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.Logger().Warn("reading kept outcome", "seq", seq, "error", err)
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
func (s *results) storeRecord(ctx context.Context, seq uint64, rec record) error {
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding outcome record: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	if _, err := b.outcomes.Put(ctx, recordKey(seq), data); err != nil {
		return fmt.Errorf("keeping outcome record %s: %w", recordKey(seq), err)
	}
	return nil
}

// dropRecord deletes the record and the upload intents it names once its
// message is settled; a failure leaves them to the bucket's TTL.
func (s *results) dropRecord(ctx context.Context, seq uint64, intents []string) {
	s.dropIntents(ctx, seq, intents)
	b := s.bus()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	if err := b.dropOutcomeKey(ctx, recordKey(seq)); err != nil {
		s.Logger().Debug("dropping outcome record", "seq", seq, "error", err)
	}
}
