package e2e

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// eventTimeout bounds every wait for an outcome event.
const eventTimeout = 30 * time.Second

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
	// Faults may leave Stop an error to give: logged, as the tests stop
	// workers of their own on the way.
	w := workertest.BuildTolerant(t, worker.New, wc)
	workertest.Run(t, w)
	return w
}

// jetStream is the JetStream API over nc.
func jetStream(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// events subscribes to outcome events before anything is published, so
// that a test can wait for the events of one request while others arrive
// in any order; each wait is bounded by eventTimeout.
func events(t *testing.T, nc *nats.Conn) *workertest.Events {
	t.Helper()
	ev := workertest.Subscribe(t, nc, "certrotation.result.>")
	ev.Timeout = eventTimeout
	return ev
}
