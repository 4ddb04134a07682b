package connector

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

// maxInWindow returns the most calls that started in any interval of
// length per (calls are sorted).
func maxInWindow(calls []time.Time, per time.Duration) int {
	best, lo := 0, 0
	for hi := range calls {
		for calls[hi].Sub(calls[lo]) >= per {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func TestPacerStaysUnderEveryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits []Limit
		margin float64
		calls  int
		// the slowest limit's Count per Per
		count int
		per   time.Duration
	}{
		{"graph app limit", []Limit{{Name: "app", Count: 200, Per: time.Minute}, {Name: "tenant", Count: 300, Per: time.Minute}}, 0, 1000, 200, time.Minute},
		{"tenant limit binds", []Limit{{Name: "app", Count: 500, Per: time.Minute}, {Name: "tenant", Count: 300, Per: time.Minute}}, 0, 1000, 300, time.Minute},
		{"compressed window", []Limit{{Name: "app", Count: 200, Per: 6 * time.Second}}, 0, 1000, 200, 6 * time.Second},
		{"small limit", []Limit{{Name: "app", Count: 3, Per: time.Second}}, 0.5, 50, 3, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(testNow)
			p := NewPacer(PacerConfig{Margin: tt.margin, NowFunc: clock.Now, SleepFunc: clock.Sleep})
			var starts []time.Time
			for range tt.calls {
				if err := p.Take(t.Context(), tt.limits); err != nil {
					t.Fatalf("Take: %v", err)
				}
				starts = append(starts, clock.Now())
			}
			if got := maxInWindow(starts, tt.per); got > tt.count {
				t.Errorf("%d calls started within %s, limit %d", got, tt.per, tt.count)
			}
			// Pacing is at the margin (0.9 by default) of the binding limit:
			// not slower than that, or the fleet loses throughput.
			margin := tt.margin
			if margin == 0 {
				margin = MarginDefault
			}
			elapsed := starts[len(starts)-1].Sub(starts[0])
			ideal := time.Duration(float64(tt.calls) / float64(tt.count) * float64(tt.per))
			if eff := float64(ideal) / float64(elapsed); eff < margin*0.98 || eff > 1 {
				t.Errorf("%d calls took %s, ideal %s: efficiency %.3f, want about %.2f", tt.calls, elapsed, ideal, eff, margin)
			}
		})
	}
}

func TestPacerKeysAreIndependent(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(testNow)
	p := NewPacer(PacerConfig{NowFunc: clock.Now, SleepFunc: clock.Sleep})
	a := []Limit{{Name: "app.a.x", Count: 20, Per: time.Minute}, {Name: "tenant.a", Count: 30, Per: time.Minute}}
	b := []Limit{{Name: "app.b.x", Count: 20, Per: time.Minute}, {Name: "tenant.b", Count: 30, Per: time.Minute}}
	for range 5 {
		if err := p.Take(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	before := clock.Now()
	if err := p.Take(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(before); waited != 0 {
		t.Errorf("b waited %s behind a's spent budget, want no wait", waited)
	}
}

func TestPacerDeadlineTakesNothing(t *testing.T) {
	t.Parallel()
	p, limits, clock := spentPacer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err := p.Take(ctx, limits)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, context.DeadlineExceeded) || be.Name != "app" {
		t.Fatalf("Take = %v, want a *BudgetError for app matching DeadlineExceeded", err)
	}
	if want := time.Minute / 18; be.Wait < want-time.Millisecond || be.Wait > want+time.Millisecond {
		t.Errorf("Wait = %s, want about %s", be.Wait, want)
	}
	if !clock.Now().Equal(testNow) {
		t.Errorf("the clock moved to %s: Take slept although the wait outlasts the deadline", clock.Now())
	}
	// The refused Take gave its token back: the next one waits one
	// interval, not two.
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	if waited := clock.Now().Sub(testNow); waited > time.Minute/18+time.Millisecond {
		t.Errorf("next Take waited %s, want one interval (%s)", waited, time.Minute/18)
	}
}

func TestPacerCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	p := NewPacer(PacerConfig{SleepFunc: func(ctx context.Context, d time.Duration) error {
		cancel() // the worker shuts down while the call waits its turn
		<-ctx.Done()
		return ctx.Err()
	}})
	limits := []Limit{{Name: "app", Count: 2, Per: time.Hour}}
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	if err := p.Take(ctx, limits); !errors.Is(err, context.Canceled) {
		t.Errorf("Take = %v, want context.Canceled", err)
	}
}

func TestPacerIgnoresEmptyLimits(t *testing.T) {
	t.Parallel()
	p := NewPacer(PacerConfig{SleepFunc: func(context.Context, time.Duration) error {
		t.Error("Take waited for a limit of nothing")
		return nil
	}})
	for range 100 {
		if err := p.Take(t.Context(), []Limit{{Name: "zero"}, {Name: "neg", Count: -1, Per: time.Second}}); err != nil {
			t.Fatal(err)
		}
	}
}

// spentPacer is a pacer on a virtual clock and one app budget of 18 calls a
// minute with a burst of 1, which it has just spent: the next Take waits.
func spentPacer(t *testing.T) (*Pacer, []Limit, *testkit.Clock) {
	t.Helper()
	clock := testkit.NewClock(testNow)
	p := NewPacer(PacerConfig{NowFunc: clock.Now, SleepFunc: clock.Sleep})
	limits := []Limit{{Name: "app", Count: 20, Per: time.Minute}} // 18 a minute, burst 1
	if err := p.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	return p, limits, clock
}
