package budget_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/budget"
	"github.com/certrotator/certrotator/connector"
)

// BenchmarkSharedTake: calls through three replicas sharing one tenant's
// budget on one embedded NATS server, at a pace the budget never makes
// wait for long (Graph's limits on a compressed window). It reports the KV
// round trips per call (issue 20's target: at most 0.25).
func BenchmarkSharedTake(b *testing.B) {
	js, _ := newKV(b, "budget-bench")
	replicas := []*budget.Shared{{Buckets: js, Bucket: "budget-bench"}, {Buckets: js, Bucket: "budget-bench"}, {Buckets: js, Bucket: "budget-bench"}}
	// Graph's 200/300 a minute on a 600 ms window: about 300 calls a second.
	limits := []connector.Limit{
		{Name: "app.bench.a", Count: 200, Per: 600 * time.Millisecond},
		{Name: "tenant.bench", Count: 300, Per: 600 * time.Millisecond},
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := replicas[next.Add(1)%3]
		for pb.Next() {
			if err := r.Take(b.Context(), limits); err != nil {
				b.Error(err)
				return
			}
		}
	})
	var ops, calls int64
	for _, r := range replicas {
		ops += r.Stats().KVOps
		calls += r.Stats().Calls
	}
	b.ReportMetric(float64(ops)/float64(calls), "kvops/call")
}
