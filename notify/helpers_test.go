package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
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
	js := testkit.JetStream(t, nc)
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

// slackReceiver is a receiver of Slack messages and a Slack sink of that
// name, on by default, that posts to it.
func slackReceiver(t *testing.T, name string) (*testkit.Receiver, config.NotifySink) {
	t.Helper()
	r := testkit.NewReceiver(t, "/s", func(rc testkit.Received) error { return checkSlackPayload(rc.Body) })
	return r, config.NotifySink{Name: name, Kind: config.NotifySlack, URL: r.Srv.URL + "/s", On: config.NotifyOnDefault()}
}

// webhookReceiver is a receiver that checks the Standard Webhooks
// signature under a 32-byte key of b, and the webhook sink "audit", on by
// default, that signs with that key and posts to it.
func webhookReceiver(t *testing.T, b byte) (*testkit.Receiver, config.NotifySink) {
	t.Helper()
	key := bytes.Repeat([]byte{b}, 32)
	r := testkit.NewReceiver(t, "/hook", func(rc testkit.Received) error { return verifyStandardWebhook(key, rc) })
	return r, config.NotifySink{Name: "audit", Kind: config.NotifyWebhook, URL: r.Srv.URL + "/hook", SigningKey: key, On: config.NotifyOnDefault()}
}

// nextIDs waits for the next n accepted requests and returns their
// CloudEvent ids in the order they came.
func nextIDs(t *testing.T, r *testkit.Receiver, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for range n {
		ev, _ := checkCloudEvent(r.Next(t))
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

// failed is a final failed outcome of connector n of request req.
func failed(job, req string, n int) jobs.Outcome {
	return jobs.Outcome{
		Job: job, Tenant: "contoso", Connector: fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", n), RequestID: req,
		Trigger: contract.TriggerCron, Status: contract.StatusFailed, Attempt: 1, Final: true,
		Error: &jobs.ErrorInfo{Code: "vault_unavailable", Class: jobs.ClassTransient, Message: fmt.Sprintf("reading the bundle: connection refused (%d)", n), RequestID: req},
	}
}

func succeeded(job, req string, n int) jobs.Outcome {
	return jobs.Outcome{
		Job: job, Tenant: "contoso", Connector: fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", n), RequestID: req,
		Trigger: contract.TriggerManual, RequestedBy: "alice", Status: contract.StatusSucceeded, Attempt: 1, Final: true,
		Certificate: &jobs.CertInfo{Thumbprint: "A1B2C3", Subject: "CN=api.contoso.example", NotAfter: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}
