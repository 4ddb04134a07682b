package budget

import (
	"testing"
	"time"
)

// TestTakingASlotWakesTwo: when the first waiter takes its slot, only the
// new first waiter and the first beyond the lane's slots are woken; the
// others moved up with the slots and keep their estimates. A waiter
// leaving without its slot wakes them all. Waking every waiter on every
// slot taken was most of the lane's CPU on a saturated tenant.
func TestTakingASlotWakesTwo(t *testing.T) {
	t.Parallel()
	ln := &lane{key: "tenant.wake"}
	now := time.Now()
	const waiters, slots = 100, 10
	for i := range waiters {
		ln.enqueue(now.Add(time.Duration(i) * time.Millisecond))
	}
	for i := range slots {
		ln.slots = append(ln.slots, now.Add(time.Duration(i)*time.Millisecond))
	}
	woken := func() []int {
		var out []int
		for i, w := range ln.waiters {
			select {
			case <-w.wake:
				out = append(out, i)
			default:
			}
		}
		return out
	}
	// The first takes its slot, as lane.take does.
	first := ln.waiters[0]
	ln.slots = ln.slots[1:]
	ln.leave(first, false)
	if got := woken(); len(got) != 2 || got[0] != 0 || got[1] != slots-1 {
		t.Errorf("taking a slot woke the waiters at %v, want only [0 %d] (the new first, the first without a slot)", got, slots-1)
	}
	// One leaves without its slot: every waiter behind it looks again.
	ln.leave(ln.waiters[5], true)
	if got := woken(); len(got) != waiters-2 {
		t.Errorf("a waiter leaving without its slot woke %d waiters, want all %d", len(got), waiters-2)
	}
}
