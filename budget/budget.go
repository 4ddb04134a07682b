// Package budget spreads Graph's rate limits over every replica of a
// deployment. Each limit (per app per tenant, per tenant) is a virtual
// schedule (GCRA) kept in a NATS KV bucket and advanced with
// compare-and-set, so N replicas sharing one app registration together stay
// under the limit of each tenant, however the work is spread between them.
// It plugs into the Graph client as its connector.Budget.
//
// Why a shared bucket rather than an assignment of tenants to replicas: the
// work is handed out by JetStream, not by tenant, and a replica may hold
// one tenant's whole backlog while the others idle. A shared bucket lets
// whoever has the work use the tenant's whole budget; an assignment would
// either cap each replica at a share or need a consensus of its own.
//
// Why grants: a replica reserves a few consecutive slots of a limit's
// schedule in one compare-and-set (a grant) and hands them to its own
// callers, in turn, as each slot comes due. KV traffic is per grant, not per
// call; a slot not used in time expires, so the schedule, not the grant,
// bounds how many calls go out. Times are the NATS server's (see
// serverClock), so replicas whose clocks disagree can neither mint slots nor
// starve.
package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/jobs"
)

// MarginDefault is the share of each limit the replicas use together:
// their slots come Margin×Count per Per; a slot is used at most late
// after its time ((1−Margin)/2×Per, at most LateMax), and the rest of the
// slack is the burst, so no interval of length Per sees more than Count
// calls: burst + Margin×Count×(Per + late)/Per ≤ Count.
const MarginDefault = 0.95

// LateMax bounds how late a slot may still be used. A slot is late by
// the time its caller takes to wake and send, milliseconds, not a share of
// Graph's minute: the lateness (1−Margin)/2×Per allowed (1.5 s of Graph's
// minute) cost the burst half of the slack, and a tenant far below its
// limit was paced from its 51st call of 2,000 a minute (its 6th of 200)
// instead of going at once. With LateMax the burst of Graph's 200 a minute
// is 8 calls, of the benchmarks' 2,000 a minute 84; a window of 6 s keeps
// the former split (late 150 ms, burst 5 of 200). Shorter is not better:
// slots reserved ahead of their callers expire sooner, and at 250 ms the
// hot tenant's three replicas lost about 2 s of a 64 s run to them.
const LateMax = 500 * time.Millisecond

// HorizonDefault is how far ahead a grant reserves slots: enough for a
// replica under load to make about 16 calls per compare-and-set at
// Graph's pace, short enough that the other replicas queue behind it for
// seconds at most.
const HorizonDefault = 5 * time.Second

// Grant sizes: a grant asks for one slot per local waiter, at least
// grantMin (so that KV traffic stays a fraction of the calls) and at most
// grantMax, within the horizon.
const (
	grantMin = 24
	grantMax = 48
	// casAttempts bounds the compare-and-set rounds of one grant: a
	// replica that loses this many races in a row fails the call
	// transiently rather than spinning on the bucket.
	casAttempts = 8
)

// Shared is a connector.Budget whose schedules live in a NATS KV bucket,
// opened through Buckets (the bus cmd opened first) on the first call and
// kept. A one-off command without NATS, such as `rotate --local`, paces
// itself alone with a connector.Pacer instead. It is safe for concurrent
// use.
type Shared struct {
	// Margin is the share of each limit used, in (0, 1]. Defaults to
	// MarginDefault.
	Margin float64
	// Horizon bounds how far ahead one grant reserves. Defaults to
	// HorizonDefault.
	Horizon time.Duration
	// Buckets opens Bucket. Required.
	Buckets jetstream.KeyValueManager
	// Bucket the replicas share. Defaults to contract.BudgetBucket, which
	// the worker provisions at start.
	Bucket string
	// Clock is this replica's clock. Defaults to the wall clock. Only its
	// durations matter: slot times are the NATS server's.
	Clock retry.Clock

	kvOnce sync.Once
	kv     *client.Bucket

	mu     sync.Mutex
	lanes  map[string]*lane // by the names of a call's limits
	server serverClock
	ops    atomic.Int64 // KV round trips
	calls  atomic.Int64 // Takes that counted a call
}

var _ connector.Budget = (*Shared)(nil)

// bucket returns the shared bucket, opening it on first use. A failed
// open is tried again by the next call.
func (s *Shared) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.kvOnce.Do(func() { s.kv = client.NewBucket(s.Buckets, cmp.Or(s.Bucket, contract.BudgetBucket)) })
	kv, err := s.kv.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("graph budget: %w", err)
	}
	return kv, nil
}

// Stats is what a Shared budget has cost so far.
type Stats struct {
	// KVOps counts round trips to the KV bucket: grants (reads and
	// compare-and-sets) and server-time samples.
	KVOps int64
	// Calls counts the calls the budget let through.
	Calls int64
}

// Stats returns the counts so far.
func (s *Shared) Stats() Stats { return Stats{KVOps: s.ops.Load(), Calls: s.calls.Load()} }

// Take waits for a slot of its limits, in turn (jobs.WithTurn), and counts
// one call in each. The slot fits every limit at once: the limits of a call
// are kept under one key, its last limit's name (connector names the
// tenant's limit last, and every call in a tenant names it), so a call
// never holds one limit's token while it waits for another's. When the
// wait fails it counts nothing: the slot goes back to its lane for the next
// caller. A turn that would come after jobs.WaitBound (ctx's deadline; a
// lease bounds the wait only once it is lost, since the run renews it while
// it waits) is refused at once with a *connector.BudgetError, and so is a
// call whose lease was lost by the time its slot came.
func (s *Shared) Take(ctx context.Context, limits []connector.Limit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ln := s.lane(limits)
	if ln == nil {
		return nil
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	if err := s.server.sync(ctx, kv, s.clock(), &s.ops); err != nil {
		return err
	}
	turn, ok := jobs.TurnOf(ctx)
	if !ok {
		turn = s.clock().Now()
	}
	slot, err := ln.take(ctx, s, kv, turn)
	if err != nil {
		return err
	}
	if err := retry.Sleep(ctx, s.clock(), slot.Sub(s.now())); err != nil {
		ln.giveBack(slot)
		return err
	}
	if lost(ctx) {
		// The lock the run renewed while it waited is gone: it must not
		// send, and the slot serves the next caller.
		ln.giveBack(slot)
		return refusal(ln.key, 0)
	}
	s.calls.Add(1)
	return nil
}

// now is the NATS server's time as this replica last learnt it.
func (s *Shared) now() time.Time { return s.server.now(s.clock()) }

// lane returns the lane of limits, made or re-sized to them, or nil when
// none limits anything.
func (s *Shared) lane(limits []connector.Limit) *lane {
	sched := schedule{horizon: s.horizon()}
	for _, l := range limits {
		if l.Count <= 0 || l.Per <= 0 {
			continue
		}
		m := s.margin()
		interval := time.Duration(float64(l.Per) / (m * float64(l.Count)))
		// The slack (1−m)×Count is the lateness a slot may be used with
		// and the burst: burst + m×Count×(Per + late)/Per ≤ Count calls in
		// any Per.
		late := min(time.Duration((1-m)/2*float64(l.Per)), LateMax)
		share := (1 - m) - m*float64(late)/float64(l.Per)
		burst := max(1, int(math.Floor(share*float64(l.Count))))
		// The versions before LateMax had a burst of (1−m)/2×Count and
		// let a slot be used (1−m)/2×Per late; while one of them shares
		// the key, grants keep its burst.
		legacyBurst := max(1, int(math.Floor((1-m)/2*float64(l.Count))))
		sched.paces = append(sched.paces, pace{name: l.Name, interval: interval, tolerance: time.Duration(burst-1) * interval, late: late,
			legacyTolerance: time.Duration(legacyBurst-1) * interval, per: l.Per})
	}
	if len(sched.paces) == 0 {
		return nil
	}
	// A lane per set of limits, since its slots count against each of
	// them; the bucket key is the last limit's, which every set that
	// shares it names last.
	names := make([]string, len(sched.paces))
	for i, p := range sched.paces {
		names[i] = p.name
	}
	id := strings.Join(names, " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lanes == nil {
		s.lanes = map[string]*lane{}
	}
	ln := s.lanes[id]
	if ln == nil {
		ln = &lane{key: names[len(names)-1]}
		s.lanes[id] = ln
	}
	ln.resize(sched)
	return ln
}

func (s *Shared) margin() float64 {
	if s.Margin <= 0 || s.Margin > 1 {
		return MarginDefault
	}
	return s.Margin
}

func (s *Shared) horizon() time.Duration {
	if s.Horizon <= 0 {
		return HorizonDefault
	}
	return s.Horizon
}

func (s *Shared) clock() retry.Clock {
	if s.Clock == nil {
		return retry.System
	}
	return s.Clock
}

// errContention is the failure of a grant that lost casAttempts races.
var errContention = errors.New("budget: too many replicas updating the bucket at once")

// refusal is the error of a turn that would come after bound.
func refusal(name string, wait time.Duration) error {
	return &connector.BudgetError{Name: name, Wait: wait, Err: context.DeadlineExceeded}
}

// tooLate reports whether a wait of d from now outlasts ctx's bound: its
// deadline, or now once its lease is lost (jobs.WaitBound). A lease still
// held does not bound the wait: it is renewed while the run waits.
func tooLate(ctx context.Context, d time.Duration) bool {
	bound, ok := jobs.WaitBound(ctx)
	return ok && time.Until(bound) < d
}

// lost reports whether ctx's bound has passed by the time its slot came:
// its lease is no longer held (or its deadline is gone).
func lost(ctx context.Context) bool {
	bound, ok := jobs.WaitBound(ctx)
	return ok && !time.Now().Before(bound)
}

// wrapKV names the bucket key in a KV error.
func wrapKV(doing, key string, err error) error {
	return fmt.Errorf("%s graph budget %s: %w", doing, key, err)
}
