package connector

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// Pacer is the in-process Budget: one token bucket per limit name, filled
// at Margin×Count per Per, holding at most (1−Margin)×Count/2 tokens.
// Bounding the burst that way keeps any interval of length Per under
// Count calls (burst + Margin×Count ≤ Count) with half the slack left for
// requests that arrive later than they were sent, so Graph's fixed or
// sliding windows never see more than their limit from this process. It
// is safe for concurrent use; it does not coordinate with other processes.
type Pacer struct {
	cfg PacerConfig

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim   *rate.Limiter
	count int
	per   time.Duration
}

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

// Take reserves one call in the bucket of every limit and waits for the
// latest of the reservations. It gives the tokens back when ctx ends while
// waiting, or at once with a *BudgetError when the wait would outlast
// ctx's deadline. Limits with a Count or Per of zero or less are ignored.
func (p *Pacer) Take(ctx context.Context, limits []Limit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := p.cfg.NowFunc()
	rs := make([]*rate.Reservation, 0, len(limits))
	var wait time.Duration
	var name string
	for _, l := range limits {
		b := p.bucket(l, now)
		if b == nil {
			continue
		}
		r := b.lim.ReserveN(now, 1)
		rs = append(rs, r)
		if d := r.DelayFrom(now); d > wait {
			wait, name = d, l.Name
		}
	}
	if wait <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		cancelAll(rs, now)
		return &BudgetError{Name: name, Wait: wait, Err: context.DeadlineExceeded}
	}
	if err := p.cfg.SleepFunc(ctx, wait); err != nil {
		cancelAll(rs, p.cfg.NowFunc())
		return err
	}
	return nil
}

func cancelAll(rs []*rate.Reservation, now time.Time) {
	for _, r := range rs {
		r.CancelAt(now)
	}
}

// bucket returns the bucket of l, made or re-sized to l, or nil for a
// limit that limits nothing.
func (p *Pacer) bucket(l Limit, now time.Time) *bucket {
	if l.Count <= 0 || l.Per <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[l.Name]
	if b != nil && b.count == l.Count && b.per == l.Per {
		return b
	}
	every := rate.Limit(p.cfg.Margin * float64(l.Count) / l.Per.Seconds())
	burst := max(1, int((1-p.cfg.Margin)*float64(l.Count)/2))
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(every, burst)}
		p.buckets[l.Name] = b
	} else {
		b.lim.SetLimitAt(now, every)
		b.lim.SetBurstAt(now, burst)
	}
	b.count, b.per = l.Count, l.Per
	return b
}
