package budget

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// switchLease is a job lock whose horizon is always a few milliseconds
// ahead (the worker renews it while the run waits) until the test loses it.
type switchLease struct{ lost atomic.Bool }

func (l *switchLease) Until() (time.Time, error) {
	if l.lost.Load() {
		return time.Time{}, errors.New("lock lost")
	}
	return time.Now().Add(10 * time.Millisecond), nil
}

// saturated returns a shared budget whose one limit has just been spent:
// three a second at 95 %, burst 1, so the next slot is about 350 ms away.
func saturated(t *testing.T, bucket string) (*Shared, []connector.Limit) {
	t.Helper()
	nc := testkit.Connect(t, testkit.NATS(t, ""))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	b := &Shared{Buckets: js, Bucket: bucket}
	limits := []connector.Limit{{Name: "tenant.lease", Count: 3, Per: time.Second}}
	if err := b.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	return b, limits
}

// TestSharedWaitOutlastsTheLeaseAsRenewed: a call whose turn comes after
// its lease's Until of the moment, while the lease is still held, waits
// for its turn instead of being refused: refused at the first Until, runs
// of three replicas on one tenant came back later than their turn and the
// budget idled meanwhile (issue 20).
func TestSharedWaitOutlastsTheLeaseAsRenewed(t *testing.T) {
	t.Parallel()
	b, limits := saturated(t, "budget-lease-held")
	if err := b.Take(jobs.WithLease(t.Context(), &switchLease{}), limits); err != nil {
		t.Fatalf("Take under a held lease = %v, want its turn", err)
	}
	if got := b.Stats().Calls; got != 2 {
		t.Errorf("%d calls counted, want 2", got)
	}
}

// TestSharedLeaseLostWhileWaiting: a call whose lease is lost while it
// waits does not go when its slot comes: it is refused, counts nothing,
// and the slot stays with the lane for the next caller.
func TestSharedLeaseLostWhileWaiting(t *testing.T) {
	t.Parallel()
	b, limits := saturated(t, "budget-lease-lost")
	ln := b.lane(limits)
	queued := func() int {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return len(ln.waiters)
	}
	slots := func() int {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return len(ln.slots)
	}
	before := slots()
	l := &switchLease{}
	done := make(chan error, 1)
	go func() { done <- b.Take(jobs.WithLease(context.WithoutCancel(t.Context()), l), limits) }()
	for deadline := time.Now().Add(10 * time.Second); queued() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the call never queued")
		}
		runtime.Gosched()
	}
	l.lost.Store(true)
	var be *connector.BudgetError
	if err := <-done; !errors.As(err, &be) {
		t.Fatalf("Take whose lease was lost while it waited = %v, want a BudgetError", err)
	}
	if got := b.Stats().Calls; got != 1 {
		t.Errorf("%d calls counted, want only the first", got)
	}
	if after := slots(); after != before {
		t.Errorf("the lane holds %d slots after the refusal, %d before: the refused call's slot was not given back", after, before)
	}
}
