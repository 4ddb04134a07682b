package jobs

import (
	"context"
	"errors"
	"testing"
	"time"
)

type untilLease struct {
	until time.Time
	err   error
}

func (l untilLease) Until() (time.Time, error) { return l.until, l.err }

// TestWaitBound: a wait is bounded by ctx's deadline; a lease still held
// does not bound it (it is renewed while the run waits), a lost lease
// bounds it at once; nothing bounds a context with neither.
func TestWaitBound(t *testing.T) {
	t.Parallel()
	soon, later := time.Now().Add(time.Second), time.Now().Add(time.Hour)
	dl := func(at time.Time) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), at)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want time.Time
		ok   bool
	}{
		{"nothing", context.Background(), time.Time{}, false},
		{"deadline", dl(soon), soon, true},
		{"lease horizon before deadline", WithLease(dl(later), untilLease{until: soon}), later, true},
		{"deadline before lease horizon", WithLease(dl(soon), untilLease{until: later}), soon, true},
		{"held lease, no deadline", WithLease(context.Background(), untilLease{until: soon}), time.Time{}, false},
	} {
		got, ok := WaitBound(tc.ctx)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: WaitBound = %s, %v; want %s, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	got, ok := WaitBound(WithLease(dl(later), untilLease{err: errors.New("lost")}))
	if !ok || got.After(time.Now()) {
		t.Errorf("lost lease: WaitBound = %s, %v; want now", got, ok)
	}
	if _, ok := TurnOf(context.Background()); ok {
		t.Error("TurnOf found a turn in a bare context")
	}
	if got, ok := TurnOf(WithTurn(context.Background(), soon)); !ok || !got.Equal(soon) {
		t.Errorf("TurnOf = %s, %v; want %s", got, ok, soon)
	}
}
