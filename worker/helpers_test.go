package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

const (
	waitTimeout = testkit.WaitTimeout
	jobName     = workertest.JobName
	conn1       = workertest.Conn1
	conn2       = workertest.Conn2
	thumb       = workertest.Thumbprint
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runServer starts a JetStream server on dir (a new temp dir when empty).
func runServer(t testing.TB, dir string) *server.Server { return testkit.NATS(t, dir) }

func connect(t testing.TB, s *server.Server) *nats.Conn { return testkit.Connect(t, s) }

func testApp(jj ...jobs.Job) *config.Config {
	if len(jj) == 0 {
		jj = []jobs.Job{workertest.Job()}
	}
	return &config.Config{
		Instance:    "test-1",
		NATS:        config.NATS{SubjectPrefix: "certrotation"},
		Jobs:        jj,
		HTTP:        config.HTTP{Listen: HTTPListenOff},
		Concurrency: 4,
	}
}

// startWorker builds and starts a worker on nc with fast retry knobs.
func startWorker(t testing.TB, nc *nats.Conn, app *config.Config, rot Rotator, mods ...func(*Worker)) *Worker {
	t.Helper()
	w := newWorker(t, nc, app, rot, mods...)
	workertest.Run(t, w)
	return w
}

func newWorker(t testing.TB, nc *nats.Conn, app *config.Config, rot Rotator, mods ...func(*Worker)) *Worker {
	t.Helper()
	return newConfigured(t, configFor(t, app, rot, nc), mods...)
}

// startConfigured builds and starts a worker of cfg with fast retry knobs.
func startConfigured(t testing.TB, cfg Config, mods ...func(*Worker)) *Worker {
	t.Helper()
	w := newConfigured(t, cfg, mods...)
	workertest.Run(t, w)
	return w
}

func newConfigured(t testing.TB, cfg Config, mods ...func(*Worker)) *Worker {
	t.Helper()
	w := workertest.Build(t, New, cfg)
	w.consumer.backoff = retry.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.1}
	w.advisory.backoff = w.consumer.backoff
	w.locker.Poll = 10 * time.Millisecond
	w.consumer.signals.settled.Init(t)
	w.consumer.contention = 20 * time.Millisecond
	for _, m := range mods {
		m(w)
	}
	return w
}

// configFor is the worker Config cmd would build from app, its schedules
// parsed as config.Load parses them, on a bus over nc; without nc, on an
// embedded server when app names a store directory, else on no bus (the
// worker is built, not started).
func configFor(t testing.TB, app *config.Config, rot Rotator, nc *nats.Conn) Config {
	t.Helper()
	var b *natsbus.Bus
	switch {
	case nc != nil:
		b = bustest.On(t, nc)
	case app.NATS.StoreDir != "":
		b = bustest.Config(t, app)
	}
	return Config{
		Instance: app.Instance, SubjectPrefix: app.NATS.SubjectPrefix, Concurrency: app.Concurrency,
		Jobs: workertest.Parsed(t, app.Jobs), Rotator: rot, Bus: b, Replicas: app.NATS.Replicas, HTTPListen: app.HTTP.Listen, ShutdownTimeout: 5 * time.Second,
	}
}

// waitSettled waits for the worker's signal that it settled a request for
// good (ack or term; naks are retries and waited through), then checks the
// server agrees that nothing is left: a term is not confirmed by the
// server, so that last check may take a moment.
func waitSettled(t testing.TB, w *Worker, what string) decision {
	t.Helper()
	js := w.bus().js // taken now: the worker may be stopping
	for {
		d := w.consumer.signals.settled.WaitOrTimeout(t)
		if d.Action == actNak {
			continue
		}
		workertest.Eventually(t, what, workertest.Settled(js))
		return d
	}
}

// rig is one test's NATS server and the test's own client of it; each
// worker it starts gets a connection of its own, as a replica would.
type rig struct{ *workertest.Client }

func newRig(t testing.TB) rig { return rig{workertest.NewClient(t)} }

// start builds and starts a worker of app on the rig's server.
func (r rig) start(t testing.TB, app *config.Config, rot Rotator, mods ...func(*Worker)) *Worker {
	t.Helper()
	return startWorker(t, connect(t, r.Server), app, rot, mods...)
}

// watch starts a worker of app answering with rot and keeps the outcome
// events from then on.
func (r rig) watch(t testing.TB, app *config.Config, rot Rotator, mods ...func(*Worker)) (*Worker, *workertest.Events) {
	t.Helper()
	w := r.start(t, app, rot, mods...)
	return w, r.Outcomes(t)
}

// serve is watch, then one request of the test job.
func (r rig) serve(t testing.TB, app *config.Config, rot Rotator, body, id string, mods ...func(*Worker)) (*Worker, *workertest.Events) {
	t.Helper()
	w, events := r.watch(t, app, rot, mods...)
	r.Request(t, jobName, body, id)
	return w, events
}

// listening is the test config with the HTTP server on a free port.
func listening() *config.Config {
	app := testApp()
	app.HTTP.Listen = "127.0.0.1:0"
	return app
}

// attempts is the test config with the test job's MaxAttempts at n.
func attempts(n int) *config.Config {
	app := testApp()
	app.Jobs[0].MaxAttempts = n
	return app
}

// connectedWorker is a worker of testApp on a NATS server of its own with
// only its connection started (the buckets provisioned, no consumer), for
// tests of what it writes there.
func connectedWorker(t *testing.T) (*server.Server, *Worker) {
	t.Helper()
	s := runServer(t, "")
	w := newWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil))
	if err := w.conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.conn.Stop(context.Background()) })
	return s, w
}
