package budget_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/certrotator/certrotator/budget"
	"github.com/certrotator/certrotator/connector"
)

// TestCorruptValueIsReplaced: an undecodable value under a budget key is
// replaced at its revision in a bounded number of round trips; the call
// goes through and the key holds a schedule again. (On main the Take
// looped on get/create until its deadline.)
func TestCorruptValueIsReplaced(t *testing.T) {
	t.Parallel()
	js, kv := newKV(t, "budget-corrupt")
	const key = "tenant.corrupt"
	if _, err := kv.Put(t.Context(), key, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	b := &budget.Shared{Buckets: js, Bucket: "budget-corrupt"}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	limits := []connector.Limit{{Name: "app.corrupt.a", Count: 200, Per: time.Minute}, {Name: key, Count: 300, Per: time.Minute}}
	if err := b.Take(ctx, limits); err != nil {
		t.Fatalf("Take over a corrupt value: %v", err)
	}
	// One server-time sample, one read, one write.
	if ops := b.Stats().KVOps; ops > 3 {
		t.Errorf("%d KV round trips for one call over a corrupt value, want at most 3", ops)
	}
	e, err := kv.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		t.Errorf("the key still holds %q: %v", e.Value(), err)
	}
}

// skewed is a replica's wall clock, off the true time by d.
type skewed time.Duration

func (c skewed) Now() time.Time                         { return time.Now().Add(time.Duration(c)) }
func (c skewed) After(d time.Duration) <-chan time.Time { return time.After(d) }

// TestClockSkewNeitherMintsNorStarves: two replicas on one NATS server
// whose clocks are 5 s ahead and 5 s behind take turns at a 60-a-minute
// budget. Together they get no more than the burst plus what the budget
// refills while the test runs (on main each switch between them minted a
// burst: the fast clock saw the slow one's stamp as seconds old), and
// neither is told to wait longer than a couple of intervals for its next
// token (on main the slow one saw the fast one's stamp in the future).
func TestClockSkewNeitherMintsNorStarves(t *testing.T) {
	t.Parallel()
	js, _ := newKV(t, "budget-skew")
	// A short horizon: a grant holds the burst and the next slot at most,
	// so that the waits below are the schedule's, not a grant's.
	fast := &budget.Shared{Clock: skewed(5 * time.Second), Horizon: 100 * time.Millisecond, Buckets: js, Bucket: "budget-skew"}
	slow := &budget.Shared{Clock: skewed(-5 * time.Second), Horizon: 100 * time.Millisecond, Buckets: js, Bucket: "budget-skew"}
	limits := []connector.Limit{{Name: "tenant.skew", Count: 60, Per: time.Minute}}
	margin := budget.MarginDefault
	interval := time.Duration(float64(time.Minute) / (margin * 60))
	const burst = 2 // ⌊((1 − 0.95) − 0.95×LateMax/Per)×60⌋
	try := func(b *budget.Shared) (bool, time.Duration) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		err := b.Take(ctx, limits)
		var be *connector.BudgetError
		switch {
		case err == nil:
			return true, 0
		case errors.As(err, &be):
			return false, be.Wait
		default:
			t.Fatalf("Take: %v", err)
			return false, 0
		}
	}
	start := time.Now()
	got := 0
	waits := map[string]time.Duration{}
	for range 20 {
		for name, b := range map[string]*budget.Shared{"slow": slow, "fast": fast} {
			if ok, wait := try(b); ok {
				got++
			} else {
				waits[name] = wait
			}
		}
	}
	refilled := int(time.Since(start) / interval)
	if limit := burst + 1 + refilled; got > limit {
		t.Errorf("replicas with clocks 10 s apart got %d tokens, the budget allows %d (burst %d, %d refilled)", got, limit, burst, refilled)
	}
	for _, name := range []string{"slow", "fast"} {
		if w, ok := waits[name]; !ok || w > 3*interval {
			t.Errorf("%s replica: last refusal said wait %s, want at most three intervals (%s)", name, w, 3*interval)
		}
	}
}

// TestFailedWaitCountsNothing: a call whose wait for its tenant's turn
// fails counts nothing in its app's budget either. On main the app token
// taken first was kept, so the app's next call waited for the app's next
// token (4.2 s) although the tenant had room after 2.1 s.
func TestFailedWaitCountsNothing(t *testing.T) {
	t.Parallel()
	js, _ := newKV(t, "budget-nothing")
	// A short horizon: each grant holds one slot, so that the waits below
	// are the schedule's, not a grant's lookahead.
	b := &budget.Shared{Horizon: 100 * time.Millisecond, Buckets: js, Bucket: "budget-nothing"}
	// Two a window at 95 %, burst 1: the tenant has a slot every 2.1 s,
	// each app every 4.2 s.
	tenant := connector.Limit{Name: "tenant.n", Count: 2, Per: 4 * time.Second}
	app := connector.Limit{Name: "app.n.a", Count: 2, Per: 8 * time.Second}
	other := connector.Limit{Name: "app.n.other", Count: 2, Per: 8 * time.Second}
	// Another app spends the tenant's slot.
	if err := b.Take(t.Context(), []connector.Limit{other, tenant}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var be *connector.BudgetError
	if err := b.Take(ctx, []connector.Limit{app, tenant}); !errors.As(err, &be) {
		t.Fatalf("Take with the tenant spent = %v, want a BudgetError", err)
	}
	// The refused call counted nothing: the app's next call goes with the
	// tenant's next slot, within 3 s, not after the app's next token.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel2()
	if err := b.Take(ctx2, []connector.Limit{app, tenant}); err != nil {
		t.Errorf("the app's next call: %v; the refused call counted against the app", err)
	}
}
