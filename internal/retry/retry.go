// Package retry is certrotator's one retry shape: capped exponential
// backoff with jitter, and a sleep that a context cancels and a test clock
// drives. The worker (nak delays), the Graph client (in-call retries) and
// the Vault client (renewal retries) all use it.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is base·2^(attempt-1) capped at Max, spread by ±Jitter (a
// fraction: 0.1 is ±10%). Its zero value waits nothing.
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Jitter float64
	// RandFunc draws the jitter, a value in [0, 1). Defaults to
	// math/rand/v2's Float64; tests pin it.
	RandFunc func() float64
}

// Delay is the wait after the attempt-th consecutive failure (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 {
		d = min(d, b.Max)
	}
	return Spread(d, b.Jitter, b.RandFunc)
}

// Spread spreads d uniformly over d·(1±frac), drawing from rnd (nil:
// math/rand/v2).
func Spread(d time.Duration, frac float64, rnd func() float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	return time.Duration(float64(d) * (1 + frac*(2*rnd()-1)))
}

// Clock is the time source of waits. System is the real one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// System is the wall clock of package time.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on clock (nil: System), or returns ctx's cause when ctx
// ends first.
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	if clock == nil {
		clock = System
	}
	select {
	case <-clock.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
