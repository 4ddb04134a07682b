package workertest

import (
	"sync"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// Latch is a one-shot signal from a Rotator (or any code a test stands
// in) to the test: Fire once the moment has come (a run started, an
// upload went out), any number of times; Wait until it has.
type Latch struct {
	once sync.Once
	ch   chan struct{}
}

// NewLatch is a Latch not fired yet.
func NewLatch() *Latch { return &Latch{ch: make(chan struct{})} }

// Fire opens the latch; later calls do nothing.
func (l *Latch) Fire() { l.once.Do(func() { close(l.ch) }) }

// Wait waits until the latch is fired, failing the test with what after
// WaitTimeout.
func (l *Latch) Wait(tb testing.TB, what string) {
	tb.Helper()
	testkit.Receive(tb, l.ch, what+": not before the deadline")
}
