package workertest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/contract"
)

// Events keeps every outcome event published on a subject, in order, so
// that a test can take them one by one (Next) or wait for those of one
// request while others arrive in any order (Wait).
type Events struct {
	// Timeout bounds each wait; WaitTimeout by default.
	Timeout time.Duration

	mu     sync.Mutex
	got    []received
	read   int // how many Next returned
	notify chan struct{}
}

type received struct {
	ev      contract.Event
	subject string
}

// Subscribe starts keeping the events on subject (a wildcard is fine)
// before anything is published.
func Subscribe(tb testing.TB, nc *nats.Conn, subject string) *Events {
	tb.Helper()
	e := &Events{Timeout: WaitTimeout, notify: make(chan struct{}, 1)}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var ev contract.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			tb.Errorf("event on %s is not a CloudEvent: %v", m.Subject, err)
			return
		}
		e.mu.Lock()
		e.got = append(e.got, received{ev, m.Subject})
		e.mu.Unlock()
		select {
		case e.notify <- struct{}{}:
		default:
		}
	})
	if err != nil {
		tb.Fatalf("subscribing to %s: %v", subject, err)
	}
	if err := nc.Flush(); err != nil {
		tb.Fatalf("flushing: %v", err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	return e
}

// Next returns the next event not returned yet and its subject.
func (e *Events) Next(tb testing.TB) (contract.Event, string) {
	tb.Helper()
	deadline := time.After(e.Timeout)
	for {
		e.mu.Lock()
		if e.read < len(e.got) {
			r := e.got[e.read]
			e.read++
			e.mu.Unlock()
			return r.ev, r.subject
		}
		e.mu.Unlock()
		select {
		case <-e.notify:
		case <-deadline:
			tb.Fatal("no outcome event before the deadline")
			return contract.Event{}, ""
		}
	}
}

// Of returns the events of the request id seen so far.
func (e *Events) Of(requestID string) []contract.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []contract.Event
	for _, r := range e.got {
		if r.ev.Data.RequestID == requestID {
			out = append(out, r.ev)
		}
	}
	return out
}

// Wait waits until n events of the request id were seen and returns them.
func (e *Events) Wait(tb testing.TB, requestID string, n int) []contract.Event {
	tb.Helper()
	deadline := time.After(e.Timeout)
	for {
		if got := e.Of(requestID); len(got) >= n {
			return got
		}
		select {
		case <-e.notify:
		case <-deadline:
			tb.Fatalf("got %d of %d events for request %s", len(e.Of(requestID)), n, requestID)
		}
	}
}

// Pending returns the events seen and not returned yet, without waiting,
// and counts them returned.
func (e *Events) Pending() []contract.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []contract.Event
	for _, r := range e.got[e.read:] {
		out = append(out, r.ev)
	}
	e.read = len(e.got)
	return out
}
