package worker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// BenchmarkRequestLoop measures requests through publish → consume →
// publish outcome → status → ack, with a Rotator that answers at once (one
// connector, one succeeded outcome).
func BenchmarkRequestLoop(b *testing.B) {
	s := runServer(b, "")
	nc := connect(b, s)
	j := workertest.Job()
	j.Connectors = j.Connectors[:1]
	rot := workertest.Func(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		return workertest.Succeed(job, req)
	})
	// No test signals: nothing reads them here, and b.N requests would
	// overflow their buffer.
	startWorker(b, connect(b, s), testApp(j), rot, func(w *Worker) { w.consumer.signals = consumerSignals{} })
	events := workertest.Subscribe(b, nc, "certrotation.result.>")
	js := testkit.JetStream(b, nc)
	body := []byte(`{"job":"contoso-api"}`)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := js.PublishAsync("certrotation.request."+jobName, body, jetstream.WithMsgID("bench-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		events.Next(b)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
