package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const prefix = "certrotation"

// bus is a JetStream server with the results stream as the worker
// provisions it (subjects, duplicate window).
type bus struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func newBus(t *testing.T) *bus {
	t.Helper()
	return busOn(t, testkit.NATS(t, ""))
}

// busOn is newBus on a server the test started.
func busOn(t *testing.T, srv *server.Server) *bus {
	t.Helper()
	return busWith(t, testkit.Connect(t, srv))
}

// busWith provisions the results stream through nc.
func busWith(t *testing.T, nc *nats.Conn) *bus {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: contract.ResultsStream, Subjects: []string{contract.AllResults(prefix)},
		Duplicates: contract.DuplicateWindow, MaxAge: contract.ResultsMaxAge,
	}); err != nil {
		t.Fatal(err)
	}
	return &bus{nc: nc, js: js}
}

// publish publishes o's event as the worker does and returns it.
func (b *bus) publish(t *testing.T, o jobs.Outcome) contract.Event {
	t.Helper()
	ev := contract.NewEvent("test", o, time.Now())
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: contract.ResultSubject(prefix, o.Job, o.Connector), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", contract.EventContentType)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		t.Fatal(err)
	}
	return ev
}

// startService starts a notify service on b for sinks, stopped at the end
// of the test. Grouping windows are short; retries come fast.
func startService(t *testing.T, b *bus, client *http.Client, logs io.Writer, sinks ...config.NotifySink) *Service {
	t.Helper()
	s := newService(t, b, client, logs, sinks...)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopService(t, s) })
	return s
}

func newService(t *testing.T, b *bus, client *http.Client, logs io.Writer, sinks ...config.NotifySink) *Service {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	s, err := New(Config{
		Sinks: sinks, SubjectPrefix: prefix, Conn: b.nc,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: prometheus.NewRegistry(),
		HTTPClient: client, Quiet: 300 * time.Millisecond, Window: 3 * time.Second,
		Backoff: &retry.Backoff{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.signals.delivered.Init(t)
	s.signals.failed.Init(t)
	s.signals.duplicate.Init(t)
	s.signals.bound.Init(t)
	return s
}

func stopService(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTPS server standing for Slack, Teams or a webhook
// endpoint. check judges each request (an error answers 400 and fails the
// test); down, while true, answers 503 as a receiver that is away does.
type receiver struct {
	srv   *httptest.Server
	got   chan received
	mu    sync.Mutex
	down  bool
	check func(received) error
}

func newReceiver(t *testing.T, path string, check func(received) error) *receiver {
	t.Helper()
	r := &receiver{got: make(chan received, 1000), check: check}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rc := received{header: req.Header.Clone(), body: body}
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		if down {
			http.Error(w, "away", http.StatusServiceUnavailable)
			return
		}
		if err := r.check(rc); err != nil {
			t.Errorf("receiver %s: %v\nbody: %s", path, err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got <- rc
		w.WriteHeader(http.StatusOK)
	})
	r.srv = httptest.NewTLSServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// next waits for the next accepted request.
func (r *receiver) next(t *testing.T) received {
	t.Helper()
	return testkit.Receive(t, r.got, "the receiver got nothing")
}

// nextIDs waits for the next n accepted requests and returns their
// CloudEvent ids in the order they came.
func (r *receiver) nextIDs(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for range n {
		ev, _ := checkCloudEvent(r.next(t))
		ids = append(ids, ev.ID)
	}
	return ids
}

// told waits until s told n events (a message may tell several) and
// returns their ids.
func told(t *testing.T, s *Service, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		got = append(got, s.signals.delivered.WaitOrTimeout(t)...)
	}
	return got
}

// sameIDs reports whether got and want hold the same ids in any order.
func sameIDs(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// requireNone fails when the receiver accepted a request not yet read.
func (r *receiver) requireNone(t *testing.T) {
	t.Helper()
	select {
	case rc := <-r.got:
		t.Fatalf("the receiver got one more request: %s", rc.body)
	default:
	}
}

// failed is a final failed outcome of connector n of request req.
func failed(job, req string, n int) jobs.Outcome {
	return jobs.Outcome{
		Job: job, Tenant: "contoso", Connector: fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", n), RequestID: req,
		Trigger: jobs.TriggerCron, Status: jobs.StatusFailed, Attempt: 1, Final: true,
		Error: &jobs.ErrorInfo{Code: "vault_unavailable", Class: jobs.ClassTransient, Message: fmt.Sprintf("reading the bundle: connection refused (%d)", n), RequestID: req},
	}
}

func succeeded(job, req string, n int) jobs.Outcome {
	return jobs.Outcome{
		Job: job, Tenant: "contoso", Connector: fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", n), RequestID: req,
		Trigger: jobs.TriggerManual, RequestedBy: "alice", Status: jobs.StatusSucceeded, Attempt: 1, Final: true,
		Certificate: &jobs.CertInfo{Thumbprint: "A1B2C3", Subject: "CN=api.contoso.example", NotAfter: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}
