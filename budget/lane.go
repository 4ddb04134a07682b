package budget

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lane is this replica's share of the limits of one key: the slots its
// grants reserved and not yet handed out, and the callers waiting for one,
// in turn order. Only the first waiter takes a slot, and only once the slot is
// due, so that a caller with an earlier turn that arrives meanwhile
// still goes first.
//
// Each waiter sleeps until its estimate or until it is woken. A waiter
// taking its slot wakes only the two whose view changed: the new first
// (its slot may be due already) and the first without a slot (the lane
// may now be low enough to reserve more). The others keep their estimate:
// they and the slots both moved up by one. Slots coming, and a waiter
// leaving without its slot, wake every waiter. Waking all of them on every
// slot taken (hundreds of callers queued on one tenant, each woken by each
// of its ~2,000 slots, each time with a new timer) made up about 40 % of
// the hot tenant's worker CPU: 5.4 s against 3.1 s with one replica.
type lane struct {
	key string

	mu       sync.Mutex
	sched    schedule
	interval time.Duration // the longest of its limits': one call's share
	late     time.Duration // how late a slot may still be used: the least of its limits'

	slots    []time.Time // server times, ascending
	waiters  []*laneWaiter
	seq      uint64
	fetching bool
	cache    entry // the bucket as this replica last wrote or read it
	// legacyUntil: a replica of a version before LateMax wrote the key
	// within a window of this time; grants keep its bursts until then.
	legacyUntil time.Time
}

type laneWaiter struct {
	turn time.Time
	seq  uint64
	wake chan struct{} // buffered: a wake-up is kept until the waiter looks
}

func (ln *lane) resize(sched schedule) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	ln.sched = sched
	ln.interval, ln.late = 0, 0
	for _, p := range sched.paces {
		ln.interval = max(ln.interval, p.interval)
		if ln.late == 0 || p.late < ln.late {
			ln.late = p.late
		}
	}
}

// take waits for w's turn and returns the slot it got. A refusal reports
// the wait from now, the caller's RetryAfter.
func (ln *lane) take(ctx context.Context, s *Shared, kv jetstream.KeyValue, turn time.Time) (time.Time, error) {
	ln.mu.Lock()
	w := ln.enqueue(turn)
	for {
		now := s.now()
		ln.expire(now)
		k := ln.position(w)
		if k == 0 && len(ln.slots) > 0 && !ln.slots[0].After(now) {
			slot := ln.slots[0]
			ln.slots = ln.slots[1:]
			ln.leave(w, false)
			ln.mu.Unlock()
			return slot, nil
		}
		if k >= len(ln.slots) && !ln.fetching && ln.low(now) {
			if err := ln.fetch(ctx, s, kv, now); err != nil {
				ln.leave(w, true)
				ln.mu.Unlock()
				return time.Time{}, err
			}
			continue
		}
		due := ln.estimate(k, now)
		if tooLate(ctx, due.Sub(now)) {
			ln.leave(w, true)
			ln.mu.Unlock()
			return time.Time{}, refusal(ln.key, due.Sub(now))
		}
		interval := ln.interval // read under the lock: resize may change it
		ln.mu.Unlock()
		wait := due.Sub(now)
		if wait <= 0 {
			// Due, but a waiter ahead has not taken its slot yet: it
			// broadcasts when it does.
			wait = interval
		}
		select {
		case <-ctx.Done():
			ln.mu.Lock()
			ln.leave(w, true)
			ln.mu.Unlock()
			return time.Time{}, ctx.Err()
		case <-w.wake:
		case <-s.clock().After(wait):
		}
		ln.mu.Lock()
	}
}

// fetch reserves a grant for the lane's waiters, without holding the lane
// while it talks to NATS. ln.mu is held on entry and exit.
func (ln *lane) fetch(ctx context.Context, s *Shared, kv jetstream.KeyValue, now time.Time) error {
	ln.fetching = true
	want := min(max(len(ln.waiters)-len(ln.slots), grantMin), grantMax)
	sched, cache, legacy := ln.sched, ln.cache, now.Before(ln.legacyUntil)
	ln.mu.Unlock()
	slots, cache, err := grant(ctx, kv, ln.key, sched, cache, now, want, legacy, &s.ops)
	ln.mu.Lock()
	ln.fetching = false
	ln.cache = cache
	if err != nil {
		return err
	}
	if cache.legacy {
		// Kept for a window from now; the value itself is this version's
		// now that the grant wrote it.
		ln.legacyUntil = now.Add(sched.window())
		ln.cache.legacy = false
	}
	ln.slots = append(ln.slots, slots...)
	slices.SortFunc(ln.slots, func(a, b time.Time) int { return a.Compare(b) })
	ln.broadcast()
	return nil
}

// low reports whether the lane should reserve more: it holds fewer than
// half a minimal grant, and its slots end within the horizon. A waiter
// further back waits for its estimate instead of reserving slots ever
// further ahead of the other replicas: slots a replica reserved and then
// had no caller for are lost to all of them.
func (ln *lane) low(now time.Time) bool {
	n := len(ln.slots)
	return n == 0 || n < grantMin/2 && !ln.slots[n-1].After(now.Add(ln.sched.horizon))
}

// estimate is when the waiter at position k can expect its slot: its slot
// if the lane holds one for it, else one interval per waiter after the
// lane's last slot.
func (ln *lane) estimate(k int, now time.Time) time.Time {
	if k < len(ln.slots) {
		return ln.slots[k]
	}
	last := now
	if n := len(ln.slots); n > 0 && ln.slots[n-1].After(last) {
		last = ln.slots[n-1]
	}
	return last.Add(time.Duration(k-len(ln.slots)+1) * ln.interval)
}

// giveBack returns an unused slot, taken for a call that then could not
// wait for it: the call counted nothing, the next one uses it.
func (ln *lane) giveBack(slot time.Time) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	ln.slots = append(ln.slots, slot)
	slices.SortFunc(ln.slots, func(a, b time.Time) int { return a.Compare(b) })
	ln.broadcast()
}

// expire drops slots too late to use: a slot used later than its limits
// allow would let calls bunch beyond the bound the burst was sized for.
func (ln *lane) expire(now time.Time) {
	cut := 0
	for cut < len(ln.slots) && ln.slots[cut].Add(ln.late).Before(now) {
		cut++
	}
	ln.slots = ln.slots[cut:]
}

func (ln *lane) enqueue(turn time.Time) *laneWaiter {
	ln.seq++
	w := &laneWaiter{turn: turn, seq: ln.seq, wake: make(chan struct{}, 1)}
	i := len(ln.waiters)
	for i > 0 && w.before(ln.waiters[i-1]) {
		i--
	}
	ln.waiters = slices.Insert(ln.waiters, i, w)
	return w
}

func (w *laneWaiter) before(o *laneWaiter) bool {
	if !w.turn.Equal(o.turn) {
		return w.turn.Before(o.turn)
	}
	return w.seq < o.seq
}

func (ln *lane) position(w *laneWaiter) int {
	return slices.Index(ln.waiters, w)
}

// leave takes w out of the queue. When it left without a slot, every
// waiter behind it looks again (their turn comes sooner). When it was
// first and took a slot, the new first looks again (its slot may be due)
// and so does the first waiter beyond the lane's slots (the lane may be
// low now); the rest moved up with the slots and keep their estimates.
func (ln *lane) leave(w *laneWaiter, without bool) {
	i := ln.position(w)
	if i < 0 {
		return
	}
	ln.waiters = slices.Delete(ln.waiters, i, i+1)
	switch {
	case without:
		ln.broadcast()
	case i == 0:
		ln.notify(0)
		ln.notify(len(ln.slots))
	}
}

// broadcast wakes every waiter.
func (ln *lane) broadcast() {
	for i := range ln.waiters {
		ln.notify(i)
	}
}

// notify wakes the waiter at position i, if any.
func (ln *lane) notify(i int) {
	if i < 0 || i >= len(ln.waiters) {
		return
	}
	select {
	case ln.waiters[i].wake <- struct{}{}:
	default: // already woken
	}
}
