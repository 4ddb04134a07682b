package connector

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// steppedClock is a clock that moves only when the test steps it: sleepers
// block until the clock passes their wake time, so that the test decides
// when every waiter is asleep before time moves on.
type steppedClock struct {
	mu       sync.Mutex
	t        time.Time
	sleepers map[chan struct{}]time.Time
	changed  chan struct{} // a sleeper came or went, or a goroutine ended
}

func newSteppedClock(t time.Time) *steppedClock {
	return &steppedClock{t: t, sleepers: map[chan struct{}]time.Time{}, changed: make(chan struct{}, 1)}
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppedClock) Sleep(ctx context.Context, d time.Duration) error {
	ch := make(chan struct{})
	c.mu.Lock()
	c.sleepers[ch] = c.t.Add(d)
	c.mu.Unlock()
	c.signal()
	defer c.signal()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.sleepers, ch)
		c.mu.Unlock()
		return ctx.Err()
	}
}

func (c *steppedClock) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitAsleep waits until ok says yes to the number of goroutines asleep
// on the clock.
func (c *steppedClock) waitAsleep(t *testing.T, ok func(asleep int) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.sleepers)
		c.mu.Unlock()
		if ok(got) {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%d goroutines asleep on the clock: not what the test waits for", got)
		}
	}
}

// step moves the clock to the earliest wake time and wakes those due.
func (c *steppedClock) step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, at := range c.sleepers {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if next.After(c.t) {
		c.t = next
	}
	for ch, at := range c.sleepers {
		if !at.After(c.t) {
			delete(c.sleepers, ch)
			close(ch)
		}
	}
}

// TestPacerServesRequestsInTurn: on a saturated tenant, requests that each
// make several calls are served in the order they came in, whatever order
// their calls reach the pacer in: a request's later calls are not overtaken
// by a request that came after it (calls served one by one in arrival order
// would interleave them all), and request i is done after about (i+1)×calls
// intervals, its place in the queue.
func TestPacerServesRequestsInTurn(t *testing.T) {
	t.Parallel()
	clock := newSteppedClock(testNow)
	p := NewPacer(PacerConfig{NowFunc: clock.Now, SleepFunc: clock.Sleep})
	limits := []Limit{{Name: "app.t.a", Count: 200, Per: time.Minute}, {Name: "tenant.t", Count: 300, Per: time.Minute}}
	// Saturate: spend the burst, so that every later call waits.
	for {
		if err := p.Take(t.Context(), limits); err != nil {
			t.Fatal(err)
		}
		if b := p.buckets["app.t.a"]; b.tat.Add(-b.tolerance).After(clock.Now()) {
			break
		}
	}
	saturated := clock.Now()
	interval := p.buckets["app.t.a"].interval

	const requests, calls = 6, 4
	var mu sync.Mutex
	var order []int
	done := make([]time.Time, requests)
	var wg sync.WaitGroup
	var finished atomic.Int32
	// The requests reach the pacer newest first, each once the one before
	// is asleep in it.
	for i := requests - 1; i >= 0; i-- {
		ctx := jobs.WithTurn(t.Context(), testNow.Add(-time.Hour+time.Duration(i)*time.Second))
		wg.Go(func() {
			for range calls {
				if err := p.Take(ctx, limits); err != nil {
					t.Errorf("request %d: Take: %v", i, err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			}
			done[i] = clock.Now()
			finished.Add(1)
			clock.signal()
		})
		clock.waitAsleep(t, func(asleep int) bool { return asleep == requests-i })
	}
	for finished.Load() < requests {
		clock.step()
		clock.waitAsleep(t, func(asleep int) bool { return asleep+int(finished.Load()) == requests })
	}
	wg.Wait()
	var want []int
	for i := range requests {
		for range calls {
			want = append(want, i)
		}
	}
	if !slices.Equal(order, want) {
		t.Errorf("calls served in the order %v, want each request's calls in its turn %v", order, want)
	}
	for i, at := range done {
		// Its place in the queue is (i+1)×calls calls; one interval of
		// slack for the burst's rounding.
		if place := time.Duration((i+1)*calls+1) * interval; at.Sub(saturated) > place {
			t.Errorf("request %d done %s after saturation, its place in the queue is %s", i, at.Sub(saturated), place)
		}
	}
}

func countOf(s []int, v int) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// shortLease is a job lock that an upload may use for d more from now.
type shortLease struct{ until time.Time }

func (l shortLease) Until() (time.Time, error) { return l.until, nil }

// lostLease is a job lock no longer surely held.
type lostLease struct{}

func (lostLease) Until() (time.Time, error) { return time.Time{}, errors.New("lock not confirmed") }

// TestPacerWaitBoundedByLease: a run whose lease is lost is refused at
// once, counting nothing, although its context has no deadline: the run
// ends transient and gives its lock back.
func TestPacerWaitBoundedByLease(t *testing.T) {
	t.Parallel()
	p, limits, clock := spentPacer(t)
	err := p.Take(jobs.WithLease(t.Context(), lostLease{}), limits)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Take = %v, want a *BudgetError", err)
	}
	if f := budgetFailure("t", err); jobs.AsFailure(f).Class != jobs.ClassTransient || jobs.AsFailure(f).RetryAfter != be.Wait {
		t.Errorf("failure %v: want transient with RetryAfter %s", f, be.Wait)
	}
	if !clock.Now().Equal(testNow) {
		t.Errorf("Take slept to %s although its lease is lost", clock.Now())
	}
	if len(p.queue) != 0 {
		t.Errorf("%d waiters left in the queue", len(p.queue))
	}
	// Nothing was counted: the next call waits one interval.
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(testNow); waited > time.Minute/18+time.Millisecond {
		t.Errorf("next Take waited %s, want one interval", waited)
	}
}

// TestPacerWaitOutlastsTheLeaseAsRenewed: a run whose turn comes after its
// lease's Until of the moment, while the lease is still held (the worker
// renews it as the run waits), waits for its turn instead of being sent
// back: sent back at the first Until, runs came back later than their
// turn and the budget idled (issue 20, three replicas on one tenant).
func TestPacerWaitOutlastsTheLeaseAsRenewed(t *testing.T) {
	t.Parallel()
	p, limits, clock := spentPacer(t)
	// The horizon is a second from now at every ask; the turn is 3.3 s away.
	if err := p.Take(jobs.WithLease(t.Context(), shortLease{until: time.Now().Add(time.Second)}), limits); err != nil {
		t.Fatalf("Take under a held lease = %v, want its turn", err)
	}
	if waited := clock.Now().Sub(testNow); waited < time.Minute/18-time.Millisecond {
		t.Errorf("Take went after %s, before its turn (%s)", waited, time.Minute/18)
	}
}

// TestPacerLeaseLostWhileWaiting: a run whose lease is lost while it waits
// does not send when its turn comes: it is refused, counting nothing, and
// the next caller has the turn.
func TestPacerLeaseLostWhileWaiting(t *testing.T) {
	t.Parallel()
	p, limits, clock := spentPacer(t)
	err := p.Take(jobs.WithLease(t.Context(), &losingLease{held: 1}), limits)
	var be *BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("Take = %v, want a *BudgetError", err)
	}
	turn := clock.Now()
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(turn); waited > time.Millisecond {
		t.Errorf("next Take waited %s after the refused turn, want none: the refused call counted", waited)
	}
}

// losingLease is a lock held for its first held asks and lost after:
// lost while a run waits under it.
type losingLease struct {
	mu    sync.Mutex
	held  int
	calls int
}

func (l *losingLease) Until() (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls <= l.held {
		return time.Now().Add(time.Hour), nil
	}
	return time.Time{}, errors.New("lock lost")
}

// TestPacerRefusalSaysTheWaitLeft: a caller that has waited part of its
// turn and is then refused (its lease lost) is told the wait left from the refusal, which
// becomes the run's RetryAfter. Counted from when it began to wait, it
// came back that much later than its turn, and the budget idled.
func TestPacerRefusalSaysTheWaitLeft(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(testNow)
	const step = time.Second
	// Each sleep moves the clock one second, however long was asked.
	sleep := func(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, min(d, step)) }
	p := NewPacer(PacerConfig{NowFunc: clock.Now, SleepFunc: sleep})
	limits := []Limit{{Name: "app", Count: 20, Per: time.Minute}} // 18 a minute, burst 1
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	err := p.Take(jobs.WithLease(t.Context(), &losingLease{held: 1}), limits)
	var be *BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("Take = %v, want a *BudgetError", err)
	}
	if want := time.Minute/18 - step; be.Wait < want-time.Millisecond || be.Wait > want+time.Millisecond {
		t.Errorf("refused with Wait %s, want the %s left after waiting %s", be.Wait, want, step)
	}
}
