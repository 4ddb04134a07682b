package credwatch

import (
	"testing"
	"time"
)

// TestSmallestCrossed: the warning due is the smallest threshold the time
// left is within; none before the largest.
func TestSmallestCrossed(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	thresholds := []time.Duration{30 * day, 14 * day, 7 * day, day}
	for _, tt := range []struct {
		left time.Duration
		want time.Duration
		ok   bool
	}{
		{31 * day, 0, false},
		{30 * day, 30 * day, true},
		{10 * day, 14 * day, true},
		{7 * day, 7 * day, true},
		{time.Hour, day, true},
		{-time.Hour, day, true}, // expired: still the last warning's threshold
	} {
		got, ok := smallestCrossed(tt.left, thresholds)
		if got != tt.want || ok != tt.ok {
			t.Errorf("smallestCrossed(%s) = %s, %v; want %s, %v", tt.left, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDaysUntil rounds down, also past the expiry.
func TestDaysUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{now.Add(10*24*time.Hour + time.Hour), 10},
		{now.Add(23 * time.Hour), 0},
		{now, 0},
		{now.Add(-time.Hour), -1},
		{now.Add(-24 * time.Hour), -1},
	} {
		if got := daysUntil(tt.at, now); got != tt.want {
			t.Errorf("daysUntil(%s) = %d, want %d", tt.at.Sub(now), got, tt.want)
		}
	}
}
