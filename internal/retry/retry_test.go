package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayDoublesToTheCap(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Max: 5 * time.Minute}
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {60, 5 * time.Minute}} {
		if got := b.Delay(tt.attempt); got != tt.want {
			t.Errorf("Delay(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}

func TestJitterBounds(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, 0.5, 0.999999} {
		b := Backoff{Base: time.Second, Max: time.Minute, Jitter: 0.1, RandFunc: func() float64 { return r }}
		got := b.Delay(1)
		if got < 900*time.Millisecond || got > 1100*time.Millisecond {
			t.Errorf("rand %v: Delay(1) = %s, outside ±10%%", r, got)
		}
	}
	if got := Spread(time.Second, 0.5, func() float64 { return 0 }); got != 500*time.Millisecond {
		t.Errorf("Spread low end = %s", got)
	}
}

// fakeClock fires every After at once and records what was asked.
type fakeClock struct{ asked []time.Duration }

func (c *fakeClock) Now() time.Time { return time.Time{} }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.asked = append(c.asked, d)
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func TestSleepUsesTheClockAndHonoursCancel(t *testing.T) {
	t.Parallel()
	c := &fakeClock{}
	if err := Sleep(context.Background(), c, time.Hour); err != nil || len(c.asked) != 1 || c.asked[0] != time.Hour {
		t.Fatalf("Sleep on fake clock: err %v asked %v", err, c.asked)
	}
	cause := errors.New("stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, nil, time.Hour); !errors.Is(err, cause) {
		t.Fatalf("Sleep after cancel = %v, want the cause", err)
	}
}
