package worker

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{4, 8 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{100, 5 * time.Minute},
	}
	for _, tt := range tests {
		for range 50 {
			got := backoff(tt.attempt, time.Second, 5*time.Minute)
			lo, hi := tt.want*9/10, tt.want*11/10
			if got < lo || got > hi {
				t.Fatalf("backoff(%d) = %s, want %s ±10%%", tt.attempt, got, tt.want)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	t.Parallel()
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[jitter(time.Second, 0.1)] = true
	}
	if len(seen) < 2 {
		t.Error("jitter returns a constant")
	}
	if jitter(0, 0.1) != 0 || jitter(time.Second, 0) != time.Second {
		t.Error("jitter of zero inputs")
	}
}
