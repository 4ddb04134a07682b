package connector

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// compressed is Graph's limits on a 6s window instead of a minute, as the
// benchmarks run them, scaled down so that a test crosses many windows.
var compressed = graphsim.Limits{AppPerWindow: 20, TenantPerWindow: 30, Window: 6 * time.Second}

// compressedConfig paces a client for compressed on clock.
func compressedConfig(clock *testkit.Clock) func(*Config) {
	return func(c *Config) {
		c.Budget = NewPacer(PacerConfig{NowFunc: clock.Now, SleepFunc: clock.Sleep})
		c.RateWindow = compressed.Window
		for k, t := range c.Tenants {
			t.RateLimit = RateLimit{AppPerMinute: compressed.AppPerWindow, TenantPerMinute: compressed.TenantPerWindow}
			c.Tenants[k] = t
		}
	}
}

func TestPacedClientSeesNo429(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(testNow)
	f := newFleet(t, 10, clock.Now, compressedConfig(clock))
	f.sim.SetLimits(compressed)
	const calls = 100 // five limits' worth: 30s of compressed clock
	ids := f.ids[testTenantKey]
	for i := range calls {
		if _, err := f.client.Get(t.Context(), testTenantKey, ids[i%len(ids)]); err != nil {
			t.Fatalf("Get %d: %v", i+1, err)
		}
	}
	if got := f.sim.TenantCounts(testTenantID); got != (graphsim.Counts{Calls: calls}) {
		t.Errorf("emulator counted %+v, want %d calls and no 429", got, calls)
	}
	// 20 per 6s at 90 %: about 33s for 100 calls; the ideal is 30s.
	if elapsed := clock.Now().Sub(testNow); elapsed < 30*time.Second || elapsed > 34*time.Second {
		t.Errorf("100 calls took %s of the compressed clock, want 30s to 34s", elapsed)
	}
}

func TestUnpacedClientIsThrottledByBothLimits(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(testNow)
	f := newFleet(t, 3, clock.Now, func(c *Config) { c.Budget = Unpaced; c.MaxRetries = -1 })
	// The app limit binds in testTenantID, the tenant limit in the other.
	f.sim.SetTenantLimits(testTenantID, graphsim.Limits{AppPerWindow: 2, TenantPerWindow: 5, Window: 6 * time.Second})
	f.sim.SetTenantLimits(otherTenantID, graphsim.Limits{AppPerWindow: 5, TenantPerWindow: 2, Window: 6 * time.Second})
	for _, key := range []string{testTenantKey, otherTenantKey} {
		var err error
		for i := 0; i < 3 && err == nil; i++ {
			_, err = f.client.Get(t.Context(), key, f.ids[key][0])
		}
		fl := jobs.AsFailure(err)
		if !errors.Is(err, ErrThrottled) || fl.Class != jobs.ClassTransient || fl.RetryAfter != 6*time.Second {
			t.Errorf("%s: third call = %v (%+v), want transient TooManyRequests with RetryAfter 6s", key, err, fl)
		}
	}
	for _, id := range []string{testTenantID, otherTenantID} {
		if got := f.sim.TenantCounts(id); got != (graphsim.Counts{Calls: 3, Throttled: 1}) {
			t.Errorf("tenant %s: counts %+v, want 3 calls, 1 throttled", id, got)
		}
	}
}

func TestPacedConcurrentCallsSeeNo429(t *testing.T) {
	t.Parallel()
	// The wall clock and eight callers at once: what the worker does. The
	// margin is lower than the default so that a loaded test machine,
	// delaying requests between pacer and emulator, cannot push a call into
	// the next window.
	limits := graphsim.Limits{AppPerWindow: 40, TenantPerWindow: 60, Window: 2 * time.Second}
	f := newFleet(t, 8, time.Now, func(c *Config) {
		c.Budget = NewPacer(PacerConfig{Margin: 0.7})
		c.RateWindow = limits.Window
		c.Tenants[testTenantKey] = withRateLimit(c.Tenants[testTenantKey], RateLimit{AppPerMinute: 40, TenantPerMinute: 60})
	})
	f.sim.SetLimits(limits)
	var wg sync.WaitGroup
	errs := make(chan error, 8*6)
	for _, id := range f.ids[testTenantKey] {
		wg.Go(func() {
			for range 6 {
				if _, err := f.client.Get(t.Context(), testTenantKey, id); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Get: %v", err)
	}
	if got := f.sim.TenantCounts(testTenantID); got != (graphsim.Counts{Calls: 48}) {
		t.Errorf("emulator counted %+v, want 48 calls and no 429", got)
	}
}

func withRateLimit(t Tenant, rl RateLimit) Tenant {
	t.RateLimit = rl
	return t
}

func TestExhaustedTenantDoesNotDelayAnother(t *testing.T) {
	t.Parallel()
	waiting := make(chan string, 1)
	f := newFleet(t, 5, time.Now, func(c *Config) {
		c.Budget = NewPacer(PacerConfig{SleepFunc: func(ctx context.Context, d time.Duration) error {
			waiting <- "waiting"
			<-ctx.Done() // tenant testTenantKey waits until it is cancelled
			return ctx.Err()
		}})
		// One call a minute in testTenantKey: the second has to wait.
		c.Tenants[testTenantKey] = withRateLimit(c.Tenants[testTenantKey], RateLimit{AppPerMinute: 1, TenantPerMinute: 1})
	})
	if _, err := f.client.Get(t.Context(), testTenantKey, f.ids[testTenantKey][0]); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	blocked := make(chan error, 1)
	go func() {
		_, err := f.client.Get(ctx, testTenantKey, f.ids[testTenantKey][1])
		blocked <- err
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the second call of the exhausted tenant never waited")
	}
	// The other tenant's calls go through while the first tenant waits;
	// its budget (Graph's defaults, burst 10) needs no wait for five.
	for _, id := range f.ids[otherTenantKey] {
		if _, err := f.client.Get(t.Context(), otherTenantKey, id); err != nil {
			t.Fatalf("other tenant's Get: %v", err)
		}
	}
	select {
	case err := <-blocked:
		t.Fatalf("the exhausted tenant's call returned early: %v", err)
	default:
	}
	cancel()
	err := <-blocked
	if fl := jobs.AsFailure(err); !errors.Is(err, context.Canceled) || fl.Code != "canceled" || fl.Class != jobs.ClassTransient {
		t.Errorf("cancelled call = %v (%+v), want transient canceled", err, fl)
	}
	if got := f.sim.TenantCounts(testTenantID).Calls; got != 1 {
		t.Errorf("exhausted tenant: %d Graph calls, want 1 (the waiting one never sent)", got)
	}
	if got := f.sim.TenantCounts(otherTenantID).Calls; got != 5 {
		t.Errorf("other tenant: %d Graph calls, want 5", got)
	}
}
