package testkit

import (
	"testing"
	"time"
)

// Receive returns the next value from ch (the zero value once ch is
// closed), failing the test with nothing when none comes within
// WaitTimeout: a test waits on the event, with a deadline, not on a sleep.
func Receive[T any](tb testing.TB, ch <-chan T, nothing string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(WaitTimeout):
		tb.Fatal(nothing)
	}
	var zero T
	return zero
}
