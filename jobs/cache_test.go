package jobs

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestTickSharesOneVaultRead: the cron runs of one tick that read the same
// bundle read and decode it once; a run by any other trigger reads afresh,
// and so does a later tick.
func TestTickSharesOneVaultRead(t *testing.T) {
	t.Parallel()
	src := sourceOf(validBundle(t).material(1))
	g := newGraph()
	now := testNow
	var mu sync.Mutex
	r, err := New(Config{Source: src, Connector: g.connector(), NowFunc: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 5 {
		j := testJob(1)
		j.Name = "job-" + string(rune('a'+i))
		wg.Go(func() {
			r.Rotate(context.Background(), j, Request{ID: "cron-" + j.Name, Trigger: TriggerCron, Attempt: 1})
		})
	}
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d Vault reads for five jobs of one tick, want 1", n)
	}
	r.Rotate(context.Background(), testJob(1), Request{ID: "manual", Trigger: TriggerManual, Attempt: 1})
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("a manual run did not read afresh: %d reads", n)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	r.Rotate(context.Background(), testJob(1), Request{ID: "cron-next", Trigger: TriggerCron, Attempt: 1})
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("the next tick did not read afresh: %d reads", n)
	}
}
