package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// eventTimeout bounds every wait for an outcome event.
const eventTimeout = 30 * time.Second

// natsServer starts a JetStream server on loopback that several workers
// (replicas) and plain clients share, as a NATS cluster would.
func natsServer(t *testing.T, dir string) *server.Server { return testkit.NATS(t, dir) }

func appConfig(instance, url string, j jobs.Job) *config.Config {
	return &config.Config{
		Instance:    instance,
		NATS:        config.NATS{URL: url, SubjectPrefix: "certrotation"},
		Jobs:        []jobs.Job{j},
		HTTP:        config.HTTP{Listen: "off"},
		Concurrency: 4,
	}
}

// startWorker runs a worker over the stack's real adapters, or over rot when
// given, and stops it at the end of the test.
func startWorker(t *testing.T, s *stack, app *config.Config, rot worker.Rotator, shutdown time.Duration) *worker.Worker {
	t.Helper()
	// As cmd wires it: the connection first, handed to the warnings and
	// the worker.
	return startWorkerOn(t, s, app, bustest.Config(t, app), rot, shutdown)
}

// startWorkerOn is startWorker on a bus the caller opened (and closes).
func startWorkerOn(t *testing.T, s *stack, app *config.Config, b *bus.Bus, rot worker.Rotator, shutdown time.Duration) *worker.Worker {
	t.Helper()
	if rot == nil {
		r, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, KeySets: s.conn, Warnings: worker.NewWarnings(b.JetStream()), Logger: loggerTo(s.logs)})
		if err != nil {
			t.Fatalf("building rotator: %v", err)
		}
		rot = r
	}
	wc := workerConfig(app)
	wc.Rotator, wc.Bus, wc.Logger, wc.ShutdownTimeout = rot, b, loggerTo(s.logs), shutdown
	w, err := worker.New(wc)
	if err != nil {
		t.Fatalf("building worker: %v", err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("starting worker: %v", err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	return w
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// collector keeps every outcome event seen, so that a test can wait for
// the events of one request while others arrive in any order.
type collector struct {
	mu     sync.Mutex
	evs    []contract.Event
	notify chan struct{}
}

// events subscribes to outcome events before anything is published.
func events(t *testing.T, nc *nats.Conn) *collector {
	t.Helper()
	c := &collector{notify: make(chan struct{}, 1)}
	sub, err := nc.Subscribe("certrotation.result.>", func(m *nats.Msg) {
		var ev contract.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("event on %s is not a CloudEvent: %v", m.Subject, err)
			return
		}
		c.mu.Lock()
		c.evs = append(c.evs, ev)
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("subscribing to results: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flushing: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return c
}

func (c *collector) of(requestID string) []contract.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []contract.Event
	for _, ev := range c.evs {
		if ev.Data.RequestID == requestID {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvents waits until n events of the request id were seen, failing at
// the deadline, and returns them.
func waitEvents(t *testing.T, c *collector, requestID string, n int) []contract.Event {
	t.Helper()
	deadline := time.After(eventTimeout)
	for {
		if got := c.of(requestID); len(got) >= n {
			return got
		}
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("got %d of %d events for request %s", len(c.of(requestID)), n, requestID)
		}
	}
}

// publish sends a request body with a Msg-Id through JetStream.
func publish(t *testing.T, nc *nats.Conn, job, msgID string, body string) bool {
	t.Helper()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish("certrotation.request."+job, []byte(body), nats.MsgId(msgID))
	if err != nil {
		t.Fatalf("publishing request %s: %v", msgID, err)
	}
	return ack.Duplicate
}
