package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// loop is a worker over the rig's real pipeline on an embedded NATS server,
// plus a client that publishes requests and counts final outcome events.
type loop struct {
	nc   *nats.Conn
	js   nats.JetStreamContext
	mu   sync.Mutex
	done map[string]chan struct{}
}

// newLoop starts a worker whose config has one job per rig connector (so
// that the per-job lock does not serialise the run) plus the rig's job.
func newLoop(b *testing.B, r *rig) *loop {
	b.Helper()
	s := testkit.NATS(b, "")
	app := &config.Config{Instance: "bench", NATS: config.NATS{URL: s.ClientURL(), SubjectPrefix: "certrotation"},
		HTTP: config.HTTP{Listen: "off"}, Concurrency: 4, Jobs: []jobs.Job{r.job}}
	for i, c := range r.job.Connectors {
		j := r.job
		j.Name = fmt.Sprintf("bench-%d", i)
		j.Connectors = []jobs.ConnectorRef{c}
		app.Jobs = append(app.Jobs, j)
	}
	wc := workerconfig.From(app)
	wc.Rotator, wc.Bus = r.rotator, bustest.Config(b, app)
	w, err := worker.New(wc)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Stop(context.Background()) })
	l := &loop{done: map[string]chan struct{}{}}
	if l.nc, err = nats.Connect(s.ClientURL()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(l.nc.Close)
	l.js, _ = l.nc.JetStream()
	if _, err := l.nc.Subscribe("certrotation.result.>", l.onEvent); err != nil {
		b.Fatal(err)
	}
	return l
}

func (l *loop) onEvent(m *nats.Msg) {
	var ev contract.Event
	if json.Unmarshal(m.Data, &ev) != nil || !ev.Data.Final {
		return
	}
	l.mu.Lock()
	ch := l.done[ev.Data.RequestID]
	delete(l.done, ev.Data.RequestID)
	l.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// send publishes a forced request and returns a channel closed on its
// (first) final outcome.
func (l *loop) send(b *testing.B, job, id string) <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	l.done[id] = ch
	l.mu.Unlock()
	body := fmt.Sprintf(`{"job":%q,"force":true}`, job)
	if _, err := l.js.Publish("certrotation.request."+job, []byte(body), nats.MsgId(id)); err != nil {
		b.Fatal(err)
	}
	return ch
}

func wait(b *testing.B, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(time.Minute):
		b.Fatal("no outcome within a minute")
	}
}

// BenchmarkWorkerThroughput pushes forced one-connector requests for 8 jobs
// through the whole loop (publish, consume, lock, Vault read, Graph GET and
// POST, events, status, ack) and reports requests per second.
func BenchmarkWorkerThroughput(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("graph_latency=%s", lat), func(b *testing.B) {
			r := newRig(b, 8, lat)
			l := newLoop(b, r)
			wait(b, l.send(b, "bench-0", "warmup"))
			b.ResetTimer()
			start := time.Now()
			var pending []<-chan struct{}
			for i := 0; b.Loop(); i++ {
				pending = append(pending, l.send(b, fmt.Sprintf("bench-%d", i%8), fmt.Sprintf("tp-%d", i)))
			}
			for _, ch := range pending {
				wait(b, ch)
			}
			elapsed := time.Since(start)
			// Publishing is asynchronous: time per request is the whole
			// elapsed time over the requests, not the loop's own.
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(len(pending)), "ns/op")
			b.ReportMetric(float64(len(pending))/elapsed.Seconds(), "requests/s")
		})
	}
}

// BenchmarkOneConnector compares one forced rotation of one connector run
// in-process (rotate --local) with the same request through NATS and the
// worker; the difference is what the NATS path adds.
func BenchmarkOneConnector(b *testing.B) {
	b.Run("path=local", func(b *testing.B) {
		r := newRig(b, 1, 0)
		ctx := context.Background()
		r.rotator.Rotate(ctx, r.job, jobs.Request{Job: r.job.Name, Force: true})
		for b.Loop() {
			r.rotator.Rotate(ctx, r.job, jobs.Request{Job: r.job.Name, Force: true})
		}
	})
	b.Run("path=nats", func(b *testing.B) {
		r := newRig(b, 1, 0)
		l := newLoop(b, r)
		wait(b, l.send(b, r.job.Name, "warmup"))
		for i := 0; b.Loop(); i++ {
			wait(b, l.send(b, r.job.Name, fmt.Sprintf("one-%d", i)))
		}
	})
}
