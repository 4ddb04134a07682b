package baseservice

import (
	"context"
	"testing"
	"time"
)

type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time                       { return c.at }
func (c fixedClock) After(time.Duration) <-chan time.Time { return nil }

// TestClockReadAtEachCall: a service built before a test swaps the
// archetype's clock and Now runs on the swapped ones, as the worker's
// tests do between New and Start.
func TestClockReadAtEachCall(t *testing.T) {
	t.Parallel()
	a := NewArchetype(nil, nil)
	var s BaseService
	s.Init(a)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a.Clock = fixedClock{at: at}
	a.Now = func() time.Time { return at.Add(time.Hour) }
	if got := s.Clock().Now(); !got.Equal(at) {
		t.Errorf("Clock().Now() = %s, want the swapped clock's %s", got, at)
	}
	if got := s.Now(); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("Now() = %s, want the swapped Now's", got)
	}
}

// TestZeroServiceWorks: a service built without an archetype logs nothing
// and runs on the system clocks.
func TestZeroServiceWorks(t *testing.T) {
	t.Parallel()
	var s BaseService
	s.Logger().Info("discarded")
	if d := time.Since(s.Now()); d < 0 || d > time.Minute {
		t.Errorf("Now() is %s off the wall clock", d)
	}
	if s.Clock() == nil {
		t.Error("no clock")
	}
}

// stepClock fires every After at once, counting the durations asked.
type stepClock struct{ asked chan time.Duration }

func (c stepClock) Now() time.Time { return time.Time{} }
func (c stepClock) After(d time.Duration) <-chan time.Time {
	c.asked <- d
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// TestRepeat: Repeat sleeps what each step returns on the service's
// clock, runs a step that returns zero again at once, and ends with ctx.
func TestRepeat(t *testing.T) {
	t.Parallel()
	a := NewArchetype(nil, nil)
	clock := stepClock{asked: make(chan time.Duration, 8)}
	a.Clock = clock
	var s BaseService
	s.Init(a)
	ctx, cancel := context.WithCancel(context.Background())
	waits := []time.Duration{time.Minute, 0, time.Hour}
	steps := 0
	s.Repeat(ctx, func(context.Context) time.Duration {
		if steps == len(waits) {
			cancel()
			return 0 // ends the loop: no sleep is asked once ctx ended
		}
		steps++
		return waits[steps-1]
	})
	close(clock.asked)
	var asked []time.Duration
	for d := range clock.asked {
		asked = append(asked, d)
	}
	if steps != len(waits) || len(asked) != 2 || asked[0] != time.Minute || asked[1] != time.Hour {
		t.Fatalf("steps %d, sleeps asked %v: want 3 steps and sleeps [1m 1h] (none for 0, none after cancel)", steps, asked)
	}
}
