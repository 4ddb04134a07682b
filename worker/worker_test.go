package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Jobs: []jobs.Job{workertest.Job()}}); err == nil {
		t.Error("New without Rotator: no error")
	}
	unparsed := workertest.Job()
	unparsed.Schedule = "0 3 * * *"
	if _, err := New(Config{Jobs: []jobs.Job{unparsed}, Rotator: workertest.NewRecorder(nil)}); err == nil {
		t.Error("New with a schedule config did not parse: no error")
	}
}

func TestStopBeforeStartAndTwice(t *testing.T) {
	t.Parallel()
	w := offline(t)
	if err := w.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := w.Start(context.Background()); err == nil {
		t.Fatal("Start after Stop: no error")
	}
	if w.Ready() {
		t.Fatal("stopped worker is ready")
	}
}

func TestProvisioningIsIdempotent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a := r.start(t, testApp(), workertest.NewRecorder(nil))
	b := r.start(t, testApp(), workertest.NewRecorder(nil))
	if !a.Ready() || !b.Ready() {
		t.Fatal("workers not ready")
	}
	if err := a.Start(context.Background()); err == nil {
		t.Fatal("second Start of one worker: no error")
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A restarted replica provisions again over the existing objects.
	r.start(t, testApp(), workertest.NewRecorder(nil))

	ctx := context.Background()
	req, err := r.JS.Stream(ctx, contract.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := req.CachedInfo().Config
	if cfg.Retention != jetstream.WorkQueuePolicy || cfg.Duplicates != contract.DuplicateWindow ||
		cfg.Storage != jetstream.FileStorage || cfg.Subjects[0] != "certrotation.request.>" {
		t.Errorf("requests stream config = %+v", cfg)
	}
	cons, err := req.Consumer(ctx, contract.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	if cc.AckPolicy != jetstream.AckExplicitPolicy || cc.AckWait != contract.AckWait || cc.MaxDeliver != 3 {
		t.Errorf("consumer config = %+v", cc)
	}
	res, err := r.JS.Stream(ctx, contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if rc := res.CachedInfo().Config; rc.Retention != jetstream.LimitsPolicy || rc.MaxAge != contract.ResultsMaxAge {
		t.Errorf("results stream config = %+v", rc)
	}
	for bucket, ttl := range map[string]time.Duration{contract.StatusBucket: 0, contract.LocksBucket: contract.LockTTL, contract.WarningsBucket: contract.WarningsTTL} {
		kv, err := r.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatalf("bucket %s: %v", bucket, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.TTL() != ttl || st.History() != 1 {
			t.Errorf("bucket %s: ttl %s history %d", bucket, st.TTL(), st.History())
		}
	}
}

func TestMaxDeliverIsLargestMaxAttempts(t *testing.T) {
	t.Parallel()
	a, b := workertest.Job(), workertest.Job()
	a.MaxAttempts, b.MaxAttempts = 2, 0
	tests := []struct {
		jobs []jobs.Job
		want int
	}{
		{nil, jobs.MaxAttemptsDefault},
		{[]jobs.Job{a}, 2},
		{[]jobs.Job{a, b}, jobs.MaxAttemptsDefault},
	}
	for _, tt := range tests {
		if got := maxDeliver(tt.jobs); got != tt.want {
			t.Errorf("maxDeliver(%d jobs) = %d, want %d", len(tt.jobs), got, tt.want)
		}
	}
}

// TestEmbeddedServerKeepsPendingRequest publishes a request while no worker
// consumes, stops the server, and starts a worker with an embedded server
// on the same store: the request is still there and runs.
func TestEmbeddedServerKeepsPendingRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	func() {
		s := runServer(t, dir)
		nc := connect(t, s)
		w := startWorker(t, nc, testApp(), workertest.NewRecorder(nil))
		if err := w.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		testkit.Publish(t, testkit.JetStream(t, nc), "certrotation.request."+jobName, `{"job":"contoso-api"}`, "kept-1")
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
	}()

	app := testApp()
	app.NATS.StoreDir = dir
	rot := workertest.NewRecorder(nil)
	w, err := New(configFor(t, app, rot, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("starting embedded worker: %v", err)
	}
	defer func() {
		if err := w.Stop(context.Background()); err != nil {
			t.Errorf("stopping embedded worker: %v", err)
		}
	}()
	if got := rot.NextCall(t); got.ID != "kept-1" {
		t.Fatalf("Rotate got request %q, want kept-1", got.ID)
	}
	if !w.Ready() {
		t.Error("embedded worker not ready")
	}
}

func TestGracefulStopFinishesInFlight(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	started, release := workertest.NewLatch(), make(chan struct{})
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		started.Fire()
		<-release
		return workertest.Succeed(job, req)
	})
	w := r.start(t, testApp(), rot)
	events := r.Outcomes(t)
	r.Request(t, jobName, workertest.RequestBody(), "graceful-1")
	started.Wait(t, "rotation started")

	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()
	workertest.Eventually(t, "worker not ready while stopping", func() bool { return !w.Ready() })
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the in-flight rotation ended: %v", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for range 2 {
		if ev, _ := events.Next(t); ev.Data.Status != contract.StatusSucceeded {
			t.Errorf("outcome %s, want succeeded", ev.Data.Status)
		}
	}
	if d := w.consumer.signals.settled.WaitOrTimeout(t); d.Action != actAck {
		t.Errorf("settled with %s, want ack", d.Action)
	}
	workertest.Eventually(t, "request acked", workertest.Settled(r.JS))
}

func TestStopTimeoutNaksInFlight(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	started := workertest.NewLatch()
	causes := make(chan error, 1)
	rot := workertest.NewRecorder(func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		started.Fire()
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return workertest.Fail(jobs.ClassTransient, "canceled")(job, req)
	})
	events := r.shutDownMidRun(t, rot, started, "timeout-1")
	if cause := <-causes; !errors.Is(cause, errShuttingDown) {
		t.Errorf("rotation cancelled with %v, want errShuttingDown", cause)
	}
	if p := events.Pending(); len(p) > 0 {
		t.Errorf("outcome published for a handed-back request: %+v", p[0].Data)
	}
	// Nak'd, not acked: the next worker gets it again.
	rot2 := workertest.NewRecorder(nil)
	r.start(t, testApp(), rot2)
	if got := rot2.NextCall(t); got.ID != "timeout-1" || got.Attempt != 2 {
		t.Fatalf("redelivered request %q attempt %d, want timeout-1 attempt 2", got.ID, got.Attempt)
	}
}

func TestReadyNeedsConsumer(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	w := newWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil))
	if w.Ready() {
		t.Fatal("ready before Start")
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !w.Ready() {
		t.Fatal("not ready after Start")
	}
}

type nopSource struct{}

func (nopSource) Fetch(context.Context, jobs.SourceRef) (jobs.Material, error) {
	return jobs.Material{}, jobs.Permanent("source_not_found", errors.New("none"))
}

type nopConnector struct{}

func (nopConnector) Get(context.Context, string, string) (jobs.ConnectorState, error) {
	return jobs.ConnectorState{}, errors.New("none")
}

func (nopConnector) Upload(context.Context, string, string, []byte, string) (jobs.ConnectorState, error) {
	return jobs.ConnectorState{}, errors.New("none")
}

// TestRealRotatorWithWarnings: the worker runs the real pipeline, whose
// expiry warnings use the bucket the worker provisions at start.
func TestRealRotatorWithWarnings(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	warn := NewWarnings(r.JS)
	rot, err := jobs.New(jobs.Config{Source: nopSource{}, Connector: nopConnector{}, Warnings: warn})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(configFor(t, testApp(), rot, r.NC))
	if err != nil {
		t.Fatal(err)
	}
	events := r.Outcomes(t)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(context.Background()) }()
	if first, err := warn.First(context.Background(), "k"); err != nil || !first {
		t.Errorf("warnings bucket not usable: %v %v", first, err)
	}
	r.Request(t, jobName, workertest.RequestBody(), "real-1")
	for range 2 {
		if ev, _ := events.Next(t); ev.Data.Error == nil || ev.Data.Error.Code != "source_not_found" || !ev.Data.Final {
			t.Errorf("event = %+v", ev.Data)
		}
	}
}
