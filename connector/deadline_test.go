package connector

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

func TestRetryAfterPastDeadlineIsNotWaited(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.sim.FailNext(1, graphsimFault(429, "", "20"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := h.client.Get(ctx, testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	if !errors.Is(err, ErrThrottled) || f.Class != jobs.ClassTransient || f.RetryAfter != 20*time.Second {
		t.Fatalf("Get = %v (%+v), want transient TooManyRequests with RetryAfter 20s", err, f)
	}
	if w := h.waits.all(); len(w) != 0 {
		t.Errorf("waited %v although the deadline comes first", w)
	}
}

func TestBackoffPastDeadlineIsNotWaited(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.sim.FailNext(1, graphsimFault(503, "", ""))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond) // backoff starts at 0.9s
	defer cancel()
	_, err := h.client.Get(ctx, testTenantKey, testConnectorID)
	if f := jobs.AsFailure(err); f.Class != jobs.ClassTransient || f.Code != "serviceNotAvailable" {
		t.Fatalf("Get = %v (%+v), want transient serviceNotAvailable", err, f)
	}
	if w := h.waits.all(); len(w) != 0 {
		t.Errorf("waited %v although the deadline comes first", w)
	}
}

func TestBudgetPastDeadlineFailsWithItsWait(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) {
		c.Tenants[testTenantKey] = withRateLimit(c.Tenants[testTenantKey], RateLimit{AppPerMinute: 1, TenantPerMinute: 1})
	})
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := h.client.Get(ctx, testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	if !errors.Is(err, context.DeadlineExceeded) || f.Code != CodeBudget || f.Class != jobs.ClassTransient {
		t.Fatalf("Get = %v (%+v), want transient %s matching DeadlineExceeded", err, f, CodeBudget)
	}
	// 0.9 a minute: the next turn is about 67s away.
	if f.RetryAfter < 50*time.Second || f.RetryAfter > 67*time.Second {
		t.Errorf("RetryAfter = %s, want the budget's wait (about 67s)", f.RetryAfter)
	}
	if n := len(h.graphCalls()); n != 1 {
		t.Errorf("graph calls = %d, want 1", n)
	}
}

func TestCallTimeoutEndsASlowCall(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) {
		c.CallTimeout = 200 * time.Millisecond
		c.Timeout = time.Hour // so that only CallTimeout can end the call
	})
	h.sim.SetLatency(time.Hour)
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want DeadlineExceeded from CallTimeout", err)
	}
	if f := jobs.AsFailure(err); f.Class != jobs.ClassTransient {
		t.Errorf("failure = %+v, want transient", f)
	}
}
