package jobs

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
)

// TestTickSharesOneVaultRead: the cron runs of one tick that read the same
// bundle read and decode it once; a run by any other trigger reads afresh,
// and so does a later tick.
func TestTickSharesOneVaultRead(t *testing.T) {
	t.Parallel()
	src := sourceOf(materialOf(validBundle(t), 1))
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
			r.Rotate(context.Background(), j, Request{ID: "cron-" + j.Name, Trigger: contract.TriggerCron, Attempt: 1})
		})
	}
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d Vault reads for five jobs of one tick, want 1", n)
	}
	r.Rotate(context.Background(), testJob(1), Request{ID: "manual", Trigger: contract.TriggerManual, Attempt: 1})
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("a manual run did not read afresh: %d reads", n)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	r.Rotate(context.Background(), testJob(1), Request{ID: "cron-next", Trigger: contract.TriggerCron, Attempt: 1})
	if n := src.calls.Load(); n != 3 {
		t.Fatalf("the next tick did not read afresh: %d reads", n)
	}
}

// countDecodes makes r count its bundle decodes.
func countDecodes(r *Rotator) *atomic.Int32 {
	n := new(atomic.Int32)
	decode := r.decode
	r.decode = func(ctx context.Context, pfx []byte, password string) (*bundle.Bundle, error) {
		n.Add(1)
		return decode(ctx, pfx, password)
	}
	return n
}

// TestDecodeReusedAcrossTriggers: runs of any trigger read Vault each time,
// but decode a (path, version) once; a new version, or the same version
// number with other bytes (a path deleted and written again), is decoded
// afresh.
func TestDecodeReusedAcrossTriggers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	m := materialOf(validBundle(t), 1)
	src := fakeSource{calls: new(atomic.Int32), FetchFunc: func(context.Context, SourceRef) (Material, error) {
		mu.Lock()
		defer mu.Unlock()
		return m, nil
	}}
	now := testNow
	r, err := New(Config{Source: src, Connector: newGraph().connector(), NowFunc: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	decodes := countDecodes(r)
	for i, trig := range []string{contract.TriggerManual, contract.TriggerEvent, contract.TriggerWatch, contract.TriggerCron, contract.TriggerManual} {
		r.Rotate(context.Background(), testJob(1), Request{ID: "r" + strconv.Itoa(i), Trigger: trig, Attempt: 1})
	}
	if reads, n := src.calls.Load(), decodes.Load(); reads != 5 || n != 1 {
		t.Fatalf("five runs of version 1: %d Vault reads and %d decodes, want 5 and 1", reads, n)
	}
	mu.Lock()
	m = materialOf(validBundle(t), 2)
	mu.Unlock()
	r.Rotate(context.Background(), testJob(1), Request{ID: "v2", Trigger: contract.TriggerEvent, Attempt: 1})
	if n := decodes.Load(); n != 2 {
		t.Fatalf("a new version was not decoded: %d decodes", n)
	}
	mu.Lock()
	m = materialOf(makeBundle(t, bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(80 * day)}), 2)
	mu.Unlock()
	r.Rotate(context.Background(), testJob(1), Request{ID: "rewritten", Trigger: contract.TriggerEvent, Attempt: 1})
	if n := decodes.Load(); n != 3 {
		t.Fatalf("version 2 with other bytes (a rewritten path) was not decoded afresh: %d decodes", n)
	}
	mu.Lock()
	now = now.Add(decodeCacheTTL + time.Second)
	mu.Unlock()
	r.Rotate(context.Background(), testJob(1), Request{ID: "later", Trigger: contract.TriggerEvent, Attempt: 1})
	if n := decodes.Load(); n != 4 {
		t.Fatalf("a decode older than the TTL was reused: %d decodes", n)
	}
}
