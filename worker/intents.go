package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// intents is the jobs.Intents of one request message: each upload's
// intent is put in the outcomes bucket, under seq-<seq>.intent.<connector>,
// before the upload is sent, so that a retry on any replica can tell a
// rotation this request made from one it merely finds. The keys live until
// the request is settled for good (the kept record lists them) or the
// bucket's TTL.
type intents struct {
	s   *results
	seq uint64

	mu   sync.Mutex
	keys map[string]bool // connectors whose intent key this attempt wrote or read
}

var _ jobs.Intents = (*intents)(nil)

func intentKey(seq uint64, connector string) string {
	return contract.IntentKey(seq, connector)
}

// Record puts the intent and waits for the bucket's ack: only then may the
// upload go out.
func (in *intents) Record(ctx context.Context, i jobs.Intent) error {
	b := in.s.bus()
	if b == nil {
		return errNotConnected
	}
	data, err := json.Marshal(i)
	if err != nil {
		return fmt.Errorf("encoding upload intent: %w", err)
	}
	in.note(i.Connector)
	ctx, cancel := context.WithTimeout(ctx, in.s.opTimeout)
	defer cancel()
	if _, err := b.outcomes.Put(ctx, intentKey(in.seq, i.Connector), data); err != nil {
		return fmt.Errorf("keeping upload intent %s: %w", intentKey(in.seq, i.Connector), err)
	}
	return nil
}

// Recorded reads the intent an earlier attempt put for the connector.
func (in *intents) Recorded(ctx context.Context, connector string) (jobs.Intent, bool, error) {
	b := in.s.bus()
	if b == nil {
		return jobs.Intent{}, false, errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, in.s.opTimeout)
	defer cancel()
	e, err := b.outcomes.Get(ctx, intentKey(in.seq, connector))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return jobs.Intent{}, false, nil
	case err != nil:
		return jobs.Intent{}, false, fmt.Errorf("reading upload intent %s: %w", intentKey(in.seq, connector), err)
	}
	in.note(connector)
	var i jobs.Intent
	if err := json.Unmarshal(e.Value(), &i); err != nil {
		return jobs.Intent{}, false, fmt.Errorf("decoding upload intent %s: %w", intentKey(in.seq, connector), err)
	}
	return i, true, nil
}

func (in *intents) note(connector string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.keys == nil {
		in.keys = map[string]bool{}
	}
	in.keys[strings.ToLower(connector)] = true
}

// connectors is every connector with an intent key known to this attempt
// or, through the kept record, to an earlier one, sorted.
func (in *intents) connectors(earlier []string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := slices.Clone(earlier)
	for c := range in.keys {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// dropIntents deletes a settled request's intent keys: a confirmation is
// reported once. One purge of the request's intent subjects removes them
// all (one per connector before: a tenth of the NATS round trips of a
// 10,000-connector tick); without the stream's handle, or when the purge
// is refused, each is dropped alone. A failure leaves them to the bucket's
// TTL.
func (s *results) dropIntents(ctx context.Context, seq uint64, connectors []string) {
	b := s.bus()
	if b == nil || len(connectors) == 0 {
		return
	}
	if b.outcomesStream != nil {
		pctx, cancel := context.WithTimeout(ctx, s.opTimeout)
		err := b.outcomesStream.Purge(pctx, jetstream.WithPurgeSubject(contract.KVSubject(contract.OutcomesBucket, contract.IntentKeys(seq))))
		cancel()
		if err == nil {
			return
		}
		s.Logger().Debug("purging upload intents", "seq", seq, "error", err)
	}
	for _, c := range connectors {
		dctx, cancel := context.WithTimeout(ctx, s.opTimeout)
		err := b.dropOutcomeKey(dctx, intentKey(seq, c))
		cancel()
		if err != nil {
			s.Logger().Debug("dropping upload intent", "seq", seq, "connector", c, "error", err)
		}
	}
}
