package notify

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/faultproxy"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestSinkDownGetsWhatItMissed: a receiver that is away answers 503; the
// sink retries with backoff, counts the failures, and once the receiver
// is back it gets every event it missed, each once.
func TestSinkDownGetsWhatItMissed(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, audit := webhookReceiver(t, 9)
	r.SetDown(true)
	s := startService(t, b, r.Srv.Client(), nil, audit)
	var want []string
	for i := range 3 {
		want = append(want, b.publish(t, failed("contoso-api", fmt.Sprintf("r%d", i), i)).ID)
	}
	// At least two failed attempts: the first and a retry.
	for range 2 {
		if err := s.signals.failed.WaitOrTimeout(t); !strings.Contains(err.Error(), "503") {
			t.Fatalf("failure %v, want the receiver's 503", err)
		}
	}
	r.SetDown(false)
	got := nextIDs(t, r, len(want))
	if !sameIDs(got, want) {
		t.Errorf("after the outage the receiver got %v, want %v", got, want)
	}
	if n := testutil.ToFloat64(s.metrics.failures.WithLabelValues("audit", "webhook")); n < 2 {
		t.Errorf("certrotator_notify_failures_total = %v, want at least 2", n)
	}
}

// TestNoEventTwiceAcrossReplicas: two replicas share a Slack sink's
// consumer. The first one's ack is lost after it sent (as when it dies
// between the send and the ack); the redelivery finds the event in the
// sent bucket and the second replica does not tell it again.
func TestNoEventTwiceAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, sink := slackReceiver(t, "oncall")
	first := newService(t, b, r.Srv.Client(), nil, sink)
	first.signals.ack = func(m jetstream.Msg) error {
		return m.Nak() // the ack is lost: JetStream hands the event out again
	}
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := b.publish(t, failed("contoso-api", "r1", 1))
	if got := first.signals.delivered.WaitOrTimeout(t); !slices.Equal(got, []string{ev.ID}) {
		t.Fatalf("first replica delivered %v, want [%s]", got, ev.ID)
	}
	r.Next(t)
	// The redelivery reaches the first replica again (it still runs);
	// stop it after it has recognised the duplicate, then start the second.
	if id := first.signals.duplicate.WaitOrTimeout(t); id != ev.ID {
		t.Fatalf("duplicate %s, want %s", id, ev.ID)
	}
	stopService(t, first)

	second := startService(t, b, r.Srv.Client(), nil, sink)
	ev2 := b.publish(t, failed("contoso-api", "r2", 2))
	if got := second.signals.delivered.WaitOrTimeout(t); !slices.Equal(got, []string{ev2.ID}) {
		t.Fatalf("second replica delivered %v, want only the new event [%s]", got, ev2.ID)
	}
	body := string(r.Next(t).Body)
	if !strings.Contains(body, "r2") || strings.Contains(body, "r1") {
		t.Errorf("second message %s, want request r2 only", body)
	}
	r.RequireNone(t)
	first.signals.delivered.RequireEmpty(t)
}

// TestSecretsNeverInLogs: a failing Slack URL, a webhook key and an SMTP
// password appear in no log line of the service.
func TestSecretsNeverInLogs(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	var logs testkit.LogBuffer
	const urlToken = "T00000000/B00000000/XXXXXXXXsecretXXXX"
	r := testkit.NewReceiver(t, "/services/"+urlToken, func(testkit.Received) error { return nil })
	r.SetDown(true)
	key := bytes.Repeat([]byte{'k'}, 32)
	s := startService(t, b, r.Srv.Client(), &logs,
		config.NotifySink{Name: "oncall", Kind: config.NotifySlack, URL: r.Srv.URL + "/services/" + urlToken, On: config.NotifyOnDefault()},
		config.NotifySink{Name: "audit", Kind: config.NotifyWebhook, URL: r.Srv.URL + "/services/" + urlToken, SigningKey: key, On: config.NotifyOnDefault()},
		config.NotifySink{Name: "mail", Kind: config.NotifyEmail, On: config.NotifyOnDefault(), To: []string{"a@example.org"},
			SMTP: config.SMTP{Address: testkit.FreeAddr(t), Username: "u", Password: "smtp-pass-secret", From: "c@example.org"}},
	)
	b.publish(t, failed("contoso-api", "r1", 1))
	seen := map[string]bool{}
	for len(seen) < 3 {
		err := s.signals.failed.WaitOrTimeout(t).Error()
		for _, k := range []string{"the slack webhook", "the signed webhook", "mailing through"} {
			if strings.Contains(err, k) {
				seen[k] = true
			}
		}
	}
	text := logs.String()
	if !strings.Contains(text, "notification not delivered") {
		t.Fatalf("no failure logged: %s", text)
	}
	for _, secret := range []string{urlToken, "/services/", string(key), "smtp-pass-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("logs hold a secret %q:\n%s", secret, text)
		}
	}
}

// TestFiltersJobsAndRetries: a sink restricted to one job hears nothing of
// another; a transient failure is told on its first attempt and when
// final, not on the retries between.
func TestFiltersJobsAndRetries(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, owners := slackReceiver(t, "owners")
	owners.Jobs = []string{"contoso-api"}
	s := startService(t, b, r.Srv.Client(), nil, owners)
	b.publish(t, failed("other-job", "r0", 1))
	first := failed("contoso-api", "r1", 1)
	first.Final = false
	retry := first
	retry.Attempt = 2
	final := first
	final.Attempt, final.Final = 3, true
	want := []string{b.publish(t, first).ID}
	b.publish(t, retry)
	want = append(want, b.publish(t, final).ID)
	if got := told(t, s, len(want)); !sameIDs(got, want) {
		t.Errorf("told %v, want the first attempt and the final one %v", got, want)
	}
	s.signals.delivered.RequireEmpty(t)
}

// TestTwoReplicasShareASink: two running replicas bind the same durable
// consumer; each event is told once, by one of them.
func TestTwoReplicasShareASink(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, audit := webhookReceiver(t, 3)
	startService(t, b, r.Srv.Client(), nil, audit)
	startService(t, b, r.Srv.Client(), nil, audit)
	const n = 20
	want := map[string]bool{}
	for i := range n {
		want[b.publish(t, failed("contoso-api", fmt.Sprintf("r%d", i), i)).ID] = true
	}
	got := map[string]int{}
	for range n {
		ev, err := checkCloudEvent(r.Next(t))
		if err != nil {
			t.Fatal(err)
		}
		got[ev.ID]++
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("event %s told %d times, want once", id, got[id])
		}
	}
	r.RequireNone(t)
}

// TestNATSOutageLosesNothing: the service's NATS link goes down while
// events are published; once it is back, every event is told.
func TestNATSOutageLosesNothing(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, "")
	b := busOn(t, srv)
	p, err := faultproxy.New(strings.TrimPrefix(srv.ClientURL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	disconnected := make(chan struct{}, 10)
	nc, err := nats.Connect(p.URL("nats"), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, audit := webhookReceiver(t, 5)
	proxied := &bus{nc: nc, js: b.js}
	startService(t, proxied, r.Srv.Client(), nil, audit)
	first := b.publish(t, failed("contoso-api", "r0", 0))
	if ev, _ := checkCloudEvent(r.Next(t)); ev.ID != first.ID {
		t.Fatalf("got %s, want %s", ev.ID, first.ID)
	}
	p.Down()
	select {
	case <-disconnected:
	case <-time.After(testkit.WaitTimeout):
		t.Fatal("the service's connection did not notice the outage")
	}
	want := []string{b.publish(t, failed("contoso-api", "r1", 1)).ID, b.publish(t, failed("contoso-api", "r2", 2)).ID}
	p.Up()
	got := nextIDs(t, r, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("after the outage got %v, want %v", got, want)
	}
}

// TestSinkThatCannotBindDoesNotStopStart: with no results stream yet, Start
// still succeeds (the worker runs on), the failure is counted, and the
// sink binds and delivers once the stream is there.
func TestSinkThatCannotBindDoesNotStopStart(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, ""))
	r, audit := webhookReceiver(t, 1)
	s := startService(t, &bus{nc: nc}, r.Srv.Client(), nil, audit)
	if err := s.signals.failed.WaitOrTimeout(t); !strings.Contains(err.Error(), "binding consumer certrotator-notify-audit") {
		t.Fatalf("failure %v, want the consumer binding", err)
	}
	if n := testutil.ToFloat64(s.metrics.failures.WithLabelValues("audit", "webhook")); n < 1 {
		t.Errorf("certrotator_notify_failures_total = %v, want the failed binding counted", n)
	}
	b := busWith(t, nc) // the worker provisions the stream
	if name := s.signals.bound.WaitOrTimeout(t); name != "audit" {
		t.Fatalf("bound %q, want audit", name)
	}
	want := b.publish(t, failed("contoso-api", "r1", 1))
	if ev, err := checkCloudEvent(r.Next(t)); err != nil || ev.ID != want.ID {
		t.Errorf("got %s (%v), want %s", ev.ID, err, want.ID)
	}
}

// TestRestartHandsHeldEventsOver: a replica stops while it holds a
// request's events in their group window; the next one tells them, once,
// in one message.
func TestRestartHandsHeldEventsOver(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, sink := slackReceiver(t, "oncall")
	first := newService(t, b, r.Srv.Client(), nil, sink)
	first.cfg.Quiet, first.cfg.Window = time.Hour, time.Hour // holds until stopped
	first.signals.taken.Init(t)
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 3 {
		want = append(want, b.publish(t, failed("contoso-api", "r1", i)).ID)
	}
	for range want {
		first.signals.taken.WaitOrTimeout(t)
	}
	stopService(t, first)
	first.signals.delivered.RequireEmpty(t)

	second := startService(t, b, r.Srv.Client(), nil, sink)
	got := second.signals.delivered.WaitOrTimeout(t)
	if !sameIDs(got, want) {
		t.Errorf("the next replica told %v, want the held %v in one message", got, want)
	}
	if body := string(r.Next(t).Body); !strings.Contains(body, "3 failed of 3 connectors") {
		t.Errorf("message %s, want the three together", body)
	}
	r.RequireNone(t)
}

// TestWarningsReachTheDefaultSink: a key set's superseded warning and an
// open API's unauthenticated warning need a person, so a sink that sets no
// `on` is told both, naming the key set as a key set.
func TestWarningsReachTheDefaultSink(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, owners := slackReceiver(t, "owners")
	s := startService(t, b, r.Srv.Client(), nil, owners)
	superseded := contract.Outcome{
		Job: "contoso-ief", Tenant: "contoso", Connector: "B2C_1A_RestApiClientCertificate", TargetKind: contract.KindKeySet,
		RequestID: "w1", Trigger: contract.TriggerCron, Status: contract.StatusSuperseded, Final: true,
		Reason: "key by-hand, activated 2026-12-01T00:00:00Z, is active in key set B2C_1A_RestApiClientCertificate",
	}
	open := contract.Outcome{
		Job: "contoso-api", Tenant: "contoso", Connector: "7b3a0c1e-0000-4000-8000-000000000001",
		RequestID: "w2", Trigger: contract.TriggerCron, Status: contract.StatusUnauthenticated, Final: true,
		Reason: "the API behind the connector accepted a call without a client certificate",
	}
	want := []string{b.publish(t, superseded).ID, b.publish(t, open).ID}
	if got := told(t, s, len(want)); !sameIDs(got, want) {
		t.Fatalf("told %v, want both warnings %v", got, want)
	}
	var bodies string
	for range want {
		bodies += string(r.Next(t).Body)
	}
	for _, w := range []string{"blocked by a later key on key set B2C_1A_RestApiClientCertificate", "API open without a certificate on connector 7b3a0c1e"} {
		if !strings.Contains(bodies, w) {
			t.Errorf("messages lack %q: %s", w, bodies)
		}
	}
}
