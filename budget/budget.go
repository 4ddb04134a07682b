// Package budget spreads Graph's rate limits over every replica of a
// deployment. Each limit (per app per tenant, per tenant) is a token bucket
// kept in a NATS KV bucket and updated with compare-and-set, so N replicas
// sharing one app registration together stay under the limit of each
// tenant, however the work is spread between them. It plugs into the Graph
// client as its connector.Budget.
//
// Why a shared bucket rather than an assignment of tenants to replicas: the
// work is handed out by JetStream, not by tenant, and a replica may hold
// one tenant's whole backlog while the others idle. A shared bucket lets
// whoever has the work use the tenant's whole budget; an assignment would
// either cap each replica at a share or need a consensus of its own.
package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/internal/retry"
)

// MarginDefault is the share of each limit the replicas use together:
// they refill at Margin×Count per Per and hold at most (1−Margin)×Count, so
// no interval of length Per sees more than Count calls.
const MarginDefault = 0.95

// Shared is a connector.Budget whose buckets live in NATS KV once Bind gave
// it a bucket, and in-process (Local) until then: a one-off command such as
// `rotate --local` paces itself alone. Its zero value is ready. It is safe
// for concurrent use.
type Shared struct {
	// Margin is the share of each limit used, in (0, 1]. Defaults to
	// MarginDefault.
	Margin float64
	// Local paces calls until Bind. Defaults to a connector.Pacer with the
	// same margin.
	Local connector.Budget
	// Clock defaults to the wall clock; bucket state holds wall-clock times,
	// so replicas need clocks in rough agreement (NTP), as leases do.
	Clock retry.Clock

	kv        atomic.Pointer[kvHolder]
	localOnce sync.Once
	pacer     *connector.Pacer
}

type kvHolder struct{ kv jetstream.KeyValue }

var _ connector.Budget = (*Shared)(nil)

// Bind makes the budget shared through kv (the worker's
// certrotation-budget bucket).
func (s *Shared) Bind(kv jetstream.KeyValue) { s.kv.Store(&kvHolder{kv: kv}) }

// Take waits until one more call fits under every limit, and counts it.
func (s *Shared) Take(ctx context.Context, limits []connector.Limit) error {
	h := s.kv.Load()
	if h == nil {
		return s.local().Take(ctx, limits)
	}
	for _, l := range limits {
		if err := s.takeOne(ctx, h.kv, l); err != nil {
			return err
		}
	}
	return nil
}

func (s *Shared) local() connector.Budget {
	if s.Local != nil {
		return s.Local
	}
	s.localOnce.Do(func() { s.pacer = connector.NewPacer(connector.PacerConfig{Margin: s.margin()}) })
	return s.pacer
}

func (s *Shared) margin() float64 {
	if s.Margin <= 0 || s.Margin > 1 {
		return MarginDefault
	}
	return s.Margin
}

func (s *Shared) clock() retry.Clock {
	if s.Clock == nil {
		return retry.System
	}
	return s.Clock
}

// bucket is one limit's state: tokens left at a time.
type bucket struct {
	Tokens float64 `json:"t"`
	At     int64   `json:"at"` // unix nanoseconds
}

// takeOne takes a token from l's bucket: read, refill for the time passed,
// take one and write back with compare-and-set; when empty, wait for the
// next token and try again. A lost compare-and-set (another replica took
// one in between) retries at once.
func (s *Shared) takeOne(ctx context.Context, kv jetstream.KeyValue, l connector.Limit) error {
	rate := s.margin() * float64(l.Count) / l.Per.Seconds() // tokens per second
	burst := math.Max(1, math.Floor((1-s.margin())*float64(l.Count)))
	start := s.clock().Now()
	for {
		now := s.clock().Now()
		b, rev, err := read(ctx, kv, l.Name)
		if err != nil {
			return err
		}
		if rev == 0 {
			b = bucket{Tokens: burst, At: now.UnixNano()}
		}
		elapsed := math.Max(0, now.Sub(time.Unix(0, b.At)).Seconds())
		tokens := math.Min(burst, b.Tokens+rate*elapsed)
		if tokens >= 1 {
			ok, err := write(ctx, kv, l.Name, bucket{Tokens: tokens - 1, At: now.UnixNano()}, rev)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			continue
		}
		wait := retry.Spread(time.Duration((1-tokens)/rate*float64(time.Second)), 0.1, nil)
		if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
			return &connector.BudgetError{Name: l.Name, Wait: now.Add(wait).Sub(start), Err: context.DeadlineExceeded}
		}
		if err := retry.Sleep(ctx, s.clock(), wait); err != nil {
			return err
		}
	}
}

// read returns the bucket under key and its revision; revision 0 means none.
func read(ctx context.Context, kv jetstream.KeyValue, key string) (bucket, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return bucket{}, 0, nil
	}
	if err != nil {
		return bucket{}, 0, fmt.Errorf("reading graph budget %s: %w", key, err)
	}
	var b bucket
	if err := json.Unmarshal(e.Value(), &b); err != nil {
		return bucket{}, 0, nil // unreadable: start the bucket afresh
	}
	return b, e.Revision(), nil
}

// write stores b if the key is still at rev (absent for rev 0); ok is false
// when another writer came first.
func write(ctx context.Context, kv jetstream.KeyValue, key string, b bucket, rev uint64) (bool, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return false, fmt.Errorf("encoding graph budget %s: %w", key, err)
	}
	if rev == 0 {
		_, err = kv.Create(ctx, key, data)
	} else {
		_, err = kv.Update(ctx, key, data, rev)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return false, nil
	default:
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return false, nil
		}
		return false, fmt.Errorf("writing graph budget %s: %w", key, err)
	}
}
