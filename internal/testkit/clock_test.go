package testkit

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	if err := c.Sleep(t.Context(), time.Minute); err != nil || !c.Now().Equal(t0.Add(time.Minute)) {
		t.Fatalf("after Sleep(1m): %s, %v; want %s", c.Now(), err, t0.Add(time.Minute))
	}
	c.Add(time.Hour)
	if !c.Now().Equal(t0.Add(time.Hour + time.Minute)) {
		t.Fatalf("after Add(1h): %s", c.Now())
	}
	c.Set(t0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil || !c.Now().Equal(t0) {
		t.Fatalf("Sleep on a done context: %s, %v; want %s and an error", c.Now(), err, t0)
	}
}

func TestSleeps(t *testing.T) {
	t.Parallel()
	var s Sleeps
	_ = s.Sleep(t.Context(), time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Sleep(ctx, 2*time.Second); err == nil {
		t.Error("Sleep on a done context returned no error")
	}
	if got := s.All(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("All() = %v", got)
	}
}
