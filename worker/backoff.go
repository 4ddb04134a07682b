package worker

import (
	"math/rand/v2"
	"time"
)

// backoff is the delay before attempt+1 after attempt (1-based) failed
// transiently: base·2^(attempt-1), capped at max, with ±10% jitter.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	return jitter(min(d, maxDelay), 0.1)
}

// jitter spreads d uniformly over d·(1±frac).
func jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	f := 1 + frac*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
