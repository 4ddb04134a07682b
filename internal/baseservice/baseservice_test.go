package baseservice

import (
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
