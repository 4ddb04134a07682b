package connector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

var _ Budget = (*Pacer)(nil)

// MarginDefault is the share of each limit a Pacer uses by default: 90 %
// leaves room for clock skew between this process and Graph and for
// requests that queue on the way.
const MarginDefault = 0.9

// PacerConfig configures a Pacer. Its zero value paces at 90 % of each
// limit on the wall clock.
type PacerConfig struct {
	// Margin is the share of each limit the pacer uses, in (0, 1]. Defaults
	// to 0.9.
	Margin float64
	// NowFunc reads the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// SleepFunc waits for a call's turn. Defaults to a timer that stops
	// early with ctx's error.
	SleepFunc func(ctx context.Context, d time.Duration) error
}

// Pacer is the in-process Budget: one bucket per limit name, filled at
// Margin×Count per Per, holding at most (1−Margin)×Count/2 calls. Bounding
// the burst that way keeps any interval of length Per under Count calls
// (burst + Margin×Count ≤ Count) with half the slack left for requests that
// arrive later than they were sent, so Graph's fixed or sliding windows
// never see more than their limit from this process.
//
// Waiters are served in turn: by the turn of their context (jobs.WithTurn,
// the time their request came in), then in the order they asked. A call
// takes its tokens only when no waiter ahead of it needs any of the same
// buckets, so a run's later calls are not overtaken by requests that came
// after it, and a request waits about as long as its place in the queue.
// It is safe for concurrent use; it does not coordinate with other
// processes.
type Pacer struct {
	cfg PacerConfig

	mu      sync.Mutex
	buckets map[string]*bucket
	queue   []*waiter // in turn order
	seq     uint64
}

// bucket is one limit as a virtual schedule (GCRA): a call may go at t
// when t ≥ tat − tolerance, and each call moves tat on by interval.
type bucket struct {
	name      string
	interval  time.Duration // one call's share of the rate
	tolerance time.Duration // (burst − 1) × interval
	tat       time.Time     // theoretical arrival time of the next call
	count     int
	per       time.Duration
}

// waiter is one Take in the queue.
type waiter struct {
	turn    time.Time
	seq     uint64
	buckets []*bucket
	wake    context.CancelCauseFunc // ends the current sleep early
	blocked bool                    // due, waiting for a waiter ahead to go
}

// errWoken ends a waiter's sleep when one ahead left without its tokens.
var errWoken = errors.New("connector: a waiter ahead left the queue")

// NewPacer returns a Pacer with cfg's zero fields defaulted; a Margin
// outside (0, 1] is taken as MarginDefault.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.Margin <= 0 || cfg.Margin > 1 {
		cfg.Margin = MarginDefault
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.SleepFunc == nil {
		cfg.SleepFunc = sleepCtx
	}
	return &Pacer{cfg: cfg, buckets: map[string]*bucket{}}
}

// Take waits for its turn in every limit's bucket and counts one call in
// each. It counts nothing when ctx ends while waiting, and refuses at once
// with a *BudgetError when the turn would come after jobs.WaitBound (ctx's
// deadline; a lease bounds the wait only once it is lost, since the run
// renews it while it waits) or when the lease was lost by the time the turn
// came. Limits with a Count or Per of zero or less are ignored.
func (p *Pacer) Take(ctx context.Context, limits []Limit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	now := p.cfg.NowFunc()
	w := p.enqueue(ctx, limits, now)
	if w == nil {
		p.mu.Unlock()
		return nil
	}
	for {
		at, name, first := p.slot(w, now)
		if first && !at.After(now) && leaseLost(ctx) {
			// The lock the run renewed while it waited is gone: it must
			// not send, and its turn passes to the next waiter.
			p.dequeue(w, true)
			p.mu.Unlock()
			return &BudgetError{Name: w.buckets[0].name, Err: context.DeadlineExceeded}
		}
		if first && !at.After(now) {
			for _, b := range w.buckets {
				b.tat = maxTime(b.tat, now).Add(b.interval)
			}
			p.dequeue(w, false)
			p.mu.Unlock()
			return nil
		}
		wait := at.Sub(now)
		if bound, ok := jobs.WaitBound(ctx); ok && time.Until(bound) < wait {
			p.dequeue(w, true)
			p.mu.Unlock()
			return &BudgetError{Name: name, Wait: wait, Err: context.DeadlineExceeded}
		}
		w.blocked = wait <= 0
		if w.blocked {
			// Due, but a waiter ahead has not taken its turn yet: sleep
			// until it does (dequeue wakes w), or one interval at most.
			wait = w.buckets[0].interval
		}
		sctx, wake := context.WithCancelCause(ctx)
		w.wake = wake
		p.mu.Unlock()
		err := p.cfg.SleepFunc(sctx, wait)
		wake(nil)
		p.mu.Lock()
		now = p.cfg.NowFunc()
		if err != nil && ctx.Err() != nil {
			p.dequeue(w, true)
			p.mu.Unlock()
			return ctx.Err()
		}
	}
}

// enqueue puts a waiter for limits in the queue, in turn order, or returns
// nil when no limit limits anything. p.mu is held.
func (p *Pacer) enqueue(ctx context.Context, limits []Limit, now time.Time) *waiter {
	w := &waiter{turn: now}
	if t, ok := jobs.TurnOf(ctx); ok {
		w.turn = t
	}
	for _, l := range limits {
		if b := p.bucket(l, now); b != nil {
			w.buckets = append(w.buckets, b)
		}
	}
	if len(w.buckets) == 0 {
		return nil
	}
	p.seq++
	w.seq = p.seq
	i := len(p.queue)
	for i > 0 && w.before(p.queue[i-1]) {
		i--
	}
	p.queue = append(p.queue, nil)
	copy(p.queue[i+1:], p.queue[i:])
	p.queue[i] = w
	return w
}

// before orders waiters: earlier turn first, then first asked.
func (w *waiter) before(o *waiter) bool {
	if !w.turn.Equal(o.turn) {
		return w.turn.Before(o.turn)
	}
	return w.seq < o.seq
}

// dequeue takes w out of the queue. When w leaves without its tokens
// (left), the waiters behind it wake to see their turn come sooner; when it
// took them, those that were due and waited for it wake.
func (p *Pacer) dequeue(w *waiter, left bool) {
	for i, q := range p.queue {
		if q != w {
			continue
		}
		p.queue = append(p.queue[:i], p.queue[i+1:]...)
		for _, o := range p.queue[i:] {
			if o.wake != nil && (left || o.blocked) {
				o.wake(errWoken)
			}
		}
		return
	}
}

// slot returns the earliest time w may go, given the waiters ahead of it
// in each of its buckets, the limit that sets that time, and whether no
// waiter is ahead of it in any bucket. p.mu is held.
func (p *Pacer) slot(w *waiter, now time.Time) (at time.Time, name string, first bool) {
	at, first = now, true
	for _, b := range w.buckets {
		ahead := 0
		for _, q := range p.queue {
			if q == w {
				break
			}
			if q.uses(b) {
				ahead++
			}
		}
		first = first && ahead == 0
		t := maxTime(b.tat, now).Add(time.Duration(ahead)*b.interval - b.tolerance)
		if t.After(at) {
			at, name = t, b.name
		}
	}
	return at, name, first
}

func (w *waiter) uses(b *bucket) bool {
	for _, x := range w.buckets {
		if x == b {
			return true
		}
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bucket returns the bucket of l, made or re-sized to l, or nil for a
// limit that limits nothing. p.mu is held.
func (p *Pacer) bucket(l Limit, now time.Time) *bucket {
	if l.Count <= 0 || l.Per <= 0 {
		return nil
	}
	b := p.buckets[l.Name]
	if b != nil && b.count == l.Count && b.per == l.Per {
		return b
	}
	if b == nil {
		b = &bucket{name: l.Name, tat: now}
		p.buckets[l.Name] = b
	}
	burst := max(1, int((1-p.cfg.Margin)*float64(l.Count)/2))
	b.interval = time.Duration(float64(l.Per) / (p.cfg.Margin * float64(l.Count)))
	b.tolerance = time.Duration(burst-1) * b.interval
	b.count, b.per = l.Count, l.Per
	return b
}

// leaseLost reports whether ctx's bound has passed: its lease is no longer
// held (jobs.WaitBound says now), or its deadline is gone.
func leaseLost(ctx context.Context) bool {
	bound, ok := jobs.WaitBound(ctx)
	return ok && !time.Now().Before(bound)
}
