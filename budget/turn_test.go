package budget

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// TestSharedServesInTurn: on a saturated tenant, callers that reach the
// shared budget newest first get their slots oldest first, by the turn of
// their request (jobs.WithTurn), not by when they asked.
func TestSharedServesInTurn(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, ""))
	js := testkit.JetStream(t, nc)
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "budget-turn", History: 1, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	b := &Shared{Horizon: time.Millisecond, Buckets: js, Bucket: "budget-turn"}
	// Three a second at 95 %, burst 1: saturated after one call, then a
	// slot about every 350 ms.
	limits := []connector.Limit{{Name: "tenant.turn", Count: 3, Per: time.Second}}
	if err := b.Take(t.Context(), limits); err != nil {
		t.Fatal(err)
	}
	ln := b.lane(limits)
	queued := func() int {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return len(ln.waiters)
	}
	const callers = 4
	base := time.Now().Add(-time.Hour)
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := callers - 1; i >= 0; i-- {
		ctx := jobs.WithTurn(context.WithoutCancel(t.Context()), base.Add(time.Duration(i)*time.Second))
		wg.Go(func() {
			if err := b.Take(ctx, limits); err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
		// Each caller is in the queue before the next one asks.
		for deadline := time.Now().Add(10 * time.Second); queued() < callers-i; {
			if time.Now().After(deadline) {
				t.Fatalf("%d callers queued, want %d", queued(), callers-i)
			}
			runtime.Gosched()
		}
	}
	wg.Wait()
	if want := []int{0, 1, 2, 3}; !slices.Equal(order, want) {
		t.Errorf("callers served in the order %v, want their turns' %v", order, want)
	}
}
