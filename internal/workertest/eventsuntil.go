package workertest

import (
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Until waits until cond holds, testing it at once and again after each
// event that arrives, for at most d (a fault's recovery may wait out a lock
// TTL, longer than Timeout). It reports whether cond held, so that the
// caller fails with what it was waiting for.
func (e *Events) Until(d time.Duration, cond func() bool) bool {
	deadline := time.After(d)
	for !cond() {
		select {
		case <-e.notify:
		case <-deadline:
			return cond()
		}
	}
	return true
}

// All returns every event seen so far, in order, without counting them
// returned.
func (e *Events) All() []contract.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]contract.Event, 0, len(e.got))
	for _, r := range e.got {
		out = append(out, r.ev)
	}
	return out
}
