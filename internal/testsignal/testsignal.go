// Package testsignal lets code under test announce that something happened
// (a request settled, a lock was found busy), so that tests wait on the
// event instead of polling or sleeping. After river's testsignal: a Signal
// is inert until a test calls Init, so production code pays one nil check.
package testsignal

import "time"

// TB is the part of TB a signal uses; taking it instead of
// TB keeps package testing out of production binaries.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// WaitTimeout bounds every wait; generous, as -race on two cores is slow.
const WaitTimeout = 20 * time.Second

// Signal carries values of T from the code under test to a test. Its zero
// value is inert: Signal does nothing until Init.
type Signal[T any] struct {
	ch chan T
}

// Init arms the signal. Call it from a test before the code runs.
func (s *Signal[T]) Init(tb TB) {
	tb.Helper()
	s.ch = make(chan T, 1000)
}

// Signal sends v to an armed signal. It never blocks: a full buffer means
// a test armed a signal it never reads, which is a bug in the test.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
		panic("testsignal: buffer full; a test armed a signal and does not read it")
	}
}

// WaitOrTimeout returns the next value, failing the test after WaitTimeout.
func (s *Signal[T]) WaitOrTimeout(tb TB) T {
	tb.Helper()
	select {
	case v := <-s.ch:
		return v
	case <-time.After(WaitTimeout):
		tb.Fatalf("testsignal: nothing signalled after %s", WaitTimeout)
	}
	var zero T
	return zero
}

// RequireEmpty fails the test when a value is waiting.
func (s *Signal[T]) RequireEmpty(tb TB) {
	tb.Helper()
	select {
	case v := <-s.ch:
		tb.Fatalf("testsignal: unexpected signal %v", v)
	default:
	}
}
