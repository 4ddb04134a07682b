package worker

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

const (
	waitTimeout = testkit.WaitTimeout
	jobName     = "contoso-api"
	conn1       = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	conn2       = "7b3a0c1e-aaaa-bbbb-cccc-000000000002"
	thumb       = "8E71C7B4D7A7F4A1D4C1A0C1B1C2D3E4F5A6B7C8"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runServer starts a JetStream server on dir (a new temp dir when empty).
func runServer(t testing.TB, dir string) *server.Server { return testkit.NATS(t, dir) }

func connect(t testing.TB, s *server.Server) *nats.Conn { return testkit.Connect(t, s) }

func testJob() jobs.Job {
	return jobs.Job{
		Name:        jobName,
		Source:      jobs.SourceRef{Mount: "secret", Path: "b2c/contoso-api", PFXField: "pfx", PasswordField: "password"},
		Policy:      jobs.PolicyOnChange,
		MaxAttempts: 3,
		Reencode:    true,
		Connectors:  []jobs.ConnectorRef{{Tenant: "contoso", ID: conn1}, {Tenant: "contoso", ID: conn2}},
	}
}

func testApp(jj ...jobs.Job) *config.Config {
	if len(jj) == 0 {
		jj = []jobs.Job{testJob()}
	}
	return &config.Config{
		Instance:    "test-1",
		NATS:        config.NATS{SubjectPrefix: "certrotation"},
		Jobs:        jj,
		HTTP:        config.HTTP{Listen: HTTPListenOff},
		Concurrency: 4,
	}
}

// fakeRotator records every call and answers with fn, or one succeeded
// outcome per connector in play.
type fakeRotator struct {
	fn    func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome
	calls chan jobs.Request
}

func newFake(fn func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome) *fakeRotator {
	return &fakeRotator{fn: fn, calls: make(chan jobs.Request, 1000)}
}

func (f *fakeRotator) Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	f.calls <- req
	if f.fn != nil {
		return f.fn(ctx, job, req)
	}
	return succeed(job, req)
}

func succeed(job jobs.Job, req jobs.Request) []jobs.Outcome {
	return each(job, req, func(o *jobs.Outcome) {
		o.Status = jobs.StatusSucceeded
		o.Final = true
		o.Certificate = &jobs.CertInfo{Thumbprint: thumb, Subject: "CN=api.contoso.example",
			NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), SourceVersion: 3}
	})
}

func fail(class jobs.Class, code string) func(jobs.Job, jobs.Request) []jobs.Outcome {
	return func(job jobs.Job, req jobs.Request) []jobs.Outcome {
		return each(job, req, func(o *jobs.Outcome) {
			o.Status = jobs.StatusFailed
			o.Error = &jobs.ErrorInfo{Code: code, Class: class, Message: code}
			o.Final = class == jobs.ClassPermanent
		})
	}
}

func each(job jobs.Job, req jobs.Request, set func(*jobs.Outcome)) []jobs.Outcome {
	var out []jobs.Outcome
	for _, c := range inPlay(job, req) {
		o := jobs.Outcome{Job: job.Name, Tenant: c.Tenant, Connector: c.ID, RequestID: req.ID,
			Trigger: req.Trigger, Attempt: req.Attempt}
		set(&o)
		out = append(out, o)
	}
	return out
}

// startWorker builds and starts a worker on nc with fast retry knobs.
func startWorker(t testing.TB, nc *nats.Conn, app *config.Config, rot Rotator, mods ...func(*Worker)) *Worker {
	t.Helper()
	w := newWorker(t, nc, app, rot, mods...)
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("starting worker: %v", err)
	}
	return w
}

func newWorker(t testing.TB, nc *nats.Conn, app *config.Config, rot Rotator, mods ...func(*Worker)) *Worker {
	t.Helper()
	w, err := New(configFor(t, app, rot, nc))
	if err != nil {
		t.Fatalf("new worker: %v", err)
	}
	w.tune.backoff = retry.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.1}
	w.tune.lockPoll = 10 * time.Millisecond
	w.signals.settled.Init(t)
	w.tune.contention = 20 * time.Millisecond
	for _, m := range mods {
		m(w)
	}
	t.Cleanup(func() {
		if err := w.Stop(context.Background()); err != nil {
			t.Errorf("stopping worker: %v", err)
		}
	})
	return w
}

// configFor is the worker Config cmd would build from app, its schedules
// parsed as config.Load parses them, on a bus over nc; without nc, on an
// embedded server when app names a store directory, else on no bus (the
// worker is built, not started).
func configFor(t testing.TB, app *config.Config, rot Rotator, nc *nats.Conn) Config {
	t.Helper()
	jj := slices.Clone(app.Jobs)
	for i, j := range jj {
		if j.Schedule != "" && j.Next == nil {
			sched, err := config.ParseSchedule(j.Schedule)
			if err != nil {
				t.Fatalf("parsing schedule of %s: %v", j.Name, err)
			}
			jj[i].Next = sched
		}
	}
	var b *natsbus.Bus
	switch {
	case nc != nil:
		b = bustest.On(t, nc)
	case app.NATS.StoreDir != "":
		b = bustest.Config(t, app)
	}
	return Config{
		Instance: app.Instance, SubjectPrefix: app.NATS.SubjectPrefix, Concurrency: app.Concurrency,
		Jobs: jj, Rotator: rot, Bus: b, Replicas: app.NATS.Replicas, HTTPListen: app.HTTP.Listen, ShutdownTimeout: 5 * time.Second,
	}
}

// eventSink collects outcome events published on subject.
type eventSink struct {
	ch chan *nats.Msg
}

func sinkEvents(t testing.TB, nc *nats.Conn, subject string) *eventSink {
	t.Helper()
	s := &eventSink{ch: make(chan *nats.Msg, 1000)}
	sub, err := nc.ChanSubscribe(subject, s.ch)
	if err != nil {
		t.Fatalf("subscribing: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flushing: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return s
}

// next returns the next event and its subject, failing after waitTimeout.
func (s *eventSink) next(t testing.TB) (contract.Event, string) {
	t.Helper()
	select {
	case m := <-s.ch:
		var ev contract.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("decoding event on %s: %v", m.Subject, err)
		}
		return ev, m.Subject
	case <-time.After(waitTimeout):
		t.Fatal("no outcome event before the deadline")
	}
	return contract.Event{}, ""
}

// nextCall returns the next Rotate call, failing after waitTimeout.
func (f *fakeRotator) nextCall(t testing.TB) jobs.Request {
	t.Helper()
	select {
	case r := <-f.calls:
		return r
	case <-time.After(waitTimeout):
		t.Fatal("Rotate not called before the deadline")
	}
	return jobs.Request{}
}

// eventually polls cond until it holds, failing after waitTimeout. It is
// for state the server reaches on its own (a stream emptied after an ack).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not before the deadline", what)
		}
		<-tick.C
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
		d := w.signals.settled.WaitOrTimeout(t)
		if d.Action == actNak {
			continue
		}
		eventually(t, what, settled(t, js))
		return d
	}
}

// settled reports whether the request stream is empty and the consumer has
// nothing pending or unacknowledged.
func settled(t testing.TB, js jetstream.JetStream) func() bool {
	return func() bool {
		st, err := js.Stream(context.Background(), contract.RequestsStream)
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background())
		if err != nil {
			return false
		}
		ci, err := st.Consumer(context.Background(), contract.ConsumerName)
		if err != nil {
			return false
		}
		cinfo, err := ci.Info(context.Background())
		if err != nil {
			return false
		}
		return info.State.Msgs == 0 && cinfo.NumAckPending == 0 && cinfo.NumPending == 0
	}
}

func newJS(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// publish sends a raw request body with a Msg-Id and waits for the ack.
func publish(t testing.TB, js jetstream.JetStream, subject, body, id string) *jetstream.PubAck {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := js.Publish(ctx, subject, []byte(body), jetstream.WithMsgID(id))
	if err != nil {
		t.Fatalf("publishing %s: %v", subject, err)
	}
	return ack
}

// noMoreCalls checks that nothing else called Rotate; call it once the
// request stream has settled.
func (f *fakeRotator) noMoreCalls(t testing.TB) {
	t.Helper()
	select {
	case r := <-f.calls:
		t.Fatalf("unexpected Rotate call: %+v", r)
	default:
	}
}

// signal is a one-shot test signal.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }
func (s *signal) wait(t testing.TB, what string) {
	t.Helper()
	select {
	case <-s.ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not before the deadline", what)
	}
}
