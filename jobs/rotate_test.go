package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recv waits for a value on ch, failing the test after a deadline.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

// setup builds a graph holding every connector of job (empty lists), a
// source serving b and a Rotator on the fixed clock.
func setup(t *testing.T, job Job, b testkit.Bundle, w Warnings) (*Rotator, *graph, fakeSource) {
	t.Helper()
	g := newGraph()
	for _, c := range job.Connectors {
		g.seed(c.ID)
	}
	src := sourceOf(materialOf(b, 3))
	return newTestRotator(t, src, g.connector(), w), g, src
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	src, c := sourceOf(Material{}), newGraph().connector()
	for name, cfg := range map[string]Config{
		"no source":            {Connector: c},
		"no connector":         {Source: src},
		"negative concurrency": {Source: src, Connector: c, Concurrency: -1},
		"negative in flight":   {Source: src, Connector: c, InFlight: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
	r, err := New(Config{Source: src, Connector: c})
	if err != nil || r.cfg.Concurrency != ConnectorConcurrencyDefault || r.cfg.NowFunc == nil || r.log == nil {
		t.Errorf("New with defaults = %+v, %v", r, err)
	}
}

func TestBadRequest(t *testing.T) {
	t.Parallel()
	o := BadRequest("contoso-api", Request{ID: "m-7"}, errors.New("decoding request: unexpected field \"x\""))
	want := Outcome{Job: "contoso-api", RequestID: "m-7", Trigger: contract.TriggerEvent, Status: contract.StatusFailed, Attempt: 1, Final: true,
		Error: &ErrorInfo{Code: contract.CodeBadRequest, Class: ClassPermanent, Message: "decoding request: unexpected field \"x\""}}
	if o.Error == nil || *o.Error != *want.Error {
		t.Fatalf("error = %+v, want %+v", o.Error, want.Error)
	}
	o.Error, want.Error = nil, nil
	if o != want {
		t.Errorf("BadRequest = %+v, want %+v", o, want)
	}
	if o.Retryable() {
		t.Error("a bad request is retryable")
	}
}

func TestRotateUnknownConnectorIsBadRequest(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	r, g, src := setup(t, job, validBundle(t), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, ID: "m-1", Connectors: []string{job.Connectors[0].ID, "nope"}})
	if len(out) != 1 || out[0].Connector != "" || out[0].Error == nil || out[0].Error.Code != contract.CodeBadRequest ||
		out[0].Error.Class != ClassPermanent || !out[0].Final || !strings.Contains(out[0].Error.Message, "nope") {
		t.Fatalf("outcomes = %+v, want one bad_request", out)
	}
	if gets, _ := g.counts(job.Connectors[0].ID); gets != 0 || src.calls.Load() != 0 {
		t.Errorf("bad request read: %d gets, %d fetches", gets, src.calls.Load())
	}
	if out := r.Rotate(t.Context(), Job{Name: "empty"}, Request{Job: "empty"}); len(out) != 1 || out[0].Error.Code != contract.CodeBadRequest {
		t.Errorf("job without connectors = %+v, want one bad_request", out)
	}
}

func TestRotateNarrowsConnectors(t *testing.T) {
	t.Parallel()
	job := testJob(3)
	r, g, _ := setup(t, job, validBundle(t), nil)
	id := job.Connectors[1].ID
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, Connectors: []string{strings.ToUpper(id), id}, Trigger: contract.TriggerCron, Attempt: 4})
	if len(out) != 1 || out[0].Connector != id || out[0].Status != contract.StatusSucceeded {
		t.Fatalf("outcomes = %+v, want one success on %s", out, id)
	}
	if out[0].Trigger != contract.TriggerCron || out[0].Attempt != 4 {
		t.Errorf("trigger/attempt = %q/%d, want cron/4", out[0].Trigger, out[0].Attempt)
	}
	for _, c := range job.Connectors {
		gets, uploads := g.counts(c.ID)
		if want := btoi(c.ID == id); gets != want || uploads != want {
			t.Errorf("%s: %d gets %d uploads, want %d each", c.ID, gets, uploads, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRotateDefaultsTriggerAndAttempt(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	r, _, _ := setup(t, job, validBundle(t), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, ID: "m-2"})
	if len(out) != 1 || out[0].Trigger != contract.TriggerEvent || out[0].Attempt != 1 || out[0].RequestID != "m-2" || !out[0].Final {
		t.Errorf("outcomes = %+v, want trigger event, attempt 1, request id m-2, final", out)
	}
}

func TestRotateReadsBundleOnce(t *testing.T) {
	t.Parallel()
	job := testJob(10)
	job.Reencode = true
	r, g, src := setup(t, job, validBundle(t), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if len(out) != 10 {
		t.Fatalf("got %d outcomes, want 10", len(out))
	}
	for i, o := range out {
		if o.Status != contract.StatusSucceeded || o.Connector != job.Connectors[i].ID {
			t.Errorf("outcome %d = %s on %s, want succeeded on %s", i, o.Status, o.Connector, job.Connectors[i].ID)
		}
		if gets, uploads := g.counts(o.Connector); gets != 1 || uploads != 1 {
			t.Errorf("%s: %d gets %d uploads, want one of each", o.Connector, gets, uploads)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}
	if len(g.uploaded) != 10 {
		t.Fatalf("%d uploads, want 10", len(g.uploaded))
	}
	// Re-encoding draws fresh salts: identical bytes everywhere prove it ran once.
	for _, pfx := range g.uploaded[1:] {
		if !bytes.Equal(pfx, g.uploaded[0]) {
			t.Fatal("connectors received different bytes: the bundle was re-encoded more than once")
		}
	}
}

// oid3DES is the DER of pbeWithSHAAnd3-KeyTripleDES-CBC (1.2.840.113549.1.12.1.3).
var oid3DES = []byte{0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x03}

func TestRotateReencode(t *testing.T) {
	t.Parallel()
	for _, reencode := range []bool{true, false} {
		t.Run(fmt.Sprint("reencode=", reencode), func(t *testing.T) {
			t.Parallel()
			job := testJob(1)
			job.Reencode = reencode
			b := validBundle(t)
			r, g, _ := setup(t, job, b, nil)
			if out := r.Rotate(t.Context(), job, Request{Job: job.Name}); out[0].Status != contract.StatusSucceeded {
				t.Fatalf("outcome = %+v", out[0])
			}
			got := g.uploaded[0]
			if !reencode {
				if !bytes.Equal(got, b.PFX) {
					t.Error("reencode off: uploaded bytes differ from the source's")
				}
				return
			}
			if bytes.Equal(got, b.PFX) || !bytes.Contains(got, oid3DES) || bytes.Contains(b.PFX, oid3DES) {
				t.Error("reencode on: uploaded bytes are not a SHA1/3DES re-encoding")
			}
			_, leaf, _, err := pkcs12.DecodeChain(got, b.Password)
			if err != nil || testkit.Thumbprint(leaf) != b.Thumbprint {
				t.Errorf("re-encoded bundle decodes to %v, %v; want thumbprint %s", leaf, err, b.Thumbprint)
			}
		})
	}
}

func TestRotateDuplicateRequestUploadsOnce(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	r, g, _ := setup(t, job, validBundle(t), nil)
	req := Request{Job: job.Name, ID: "dup"}
	first, second := r.Rotate(t.Context(), job, req), r.Rotate(t.Context(), job, req)
	if first[0].Status != contract.StatusSucceeded || second[0].Status != contract.StatusSkipped || second[0].Reason != contract.ReasonAlreadyPresent {
		t.Errorf("runs = %s, %s/%s; want succeeded, then skipped/already_present", first[0].Status, second[0].Status, second[0].Reason)
	}
	if gets, uploads := g.counts(conn1); gets != 2 || uploads != 1 {
		t.Errorf("%d gets %d uploads, want 2 and 1", gets, uploads)
	}
}

func TestRotateConcurrencyBound(t *testing.T) {
	t.Parallel()
	const n, limit = 10, 3
	job := testJob(n)
	g := newGraph()
	for _, c := range job.Connectors {
		g.seed(c.ID)
	}
	gate := newUploadGate(n)
	r, err := New(Config{Source: sourceOf(materialOf(validBundle(t), 1)), Connector: gate.connector(g), Concurrency: limit, NowFunc: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Outcome)
	go func() { done <- r.Rotate(context.Background(), job, Request{Job: job.Name}) }()
	gate.holds(t, limit)
	out := recv(t, done)
	if p := gate.peak.Load(); p != limit {
		t.Errorf("peak concurrent uploads = %d, want %d", p, limit)
	}
	for _, o := range out {
		if o.Status != contract.StatusSucceeded {
			t.Errorf("%s: %s", o.Connector, o.Status)
		}
	}
}

// TestRotateInFlightBoundAcrossRuns runs two jobs at once on one Rotator
// whose InFlight is below either run's Concurrency: the connectors of both
// runs together never exceed it (a worker's 64 requests at once otherwise
// held 64×64 connectors' calls and goroutines at the same instant).
func TestRotateInFlightBoundAcrossRuns(t *testing.T) {
	t.Parallel()
	const n, inFlight = 10, 3
	jobA, jobB := testJob(n), testJob(2*n)
	jobB.Name, jobB.Connectors = "fabrikam-api", jobB.Connectors[n:]
	g := newGraph()
	for _, c := range append(jobA.Connectors, jobB.Connectors...) {
		g.seed(c.ID)
	}
	gate := newUploadGate(2 * n)
	r, err := New(Config{Source: sourceOf(materialOf(validBundle(t), 1)), Connector: gate.connector(g), Concurrency: n, InFlight: inFlight,
		NowFunc: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Outcome, 2)
	for _, job := range []Job{jobA, jobB} {
		go func() { done <- r.Rotate(context.Background(), job, Request{Job: job.Name}) }()
	}
	gate.holds(t, inFlight)
	out := append(recv(t, done), recv(t, done)...)
	if p := gate.peak.Load(); p != inFlight {
		t.Errorf("peak concurrent uploads of two runs = %d, want %d", p, inFlight)
	}
	if len(out) != 2*n {
		t.Errorf("%d outcomes, want %d", len(out), 2*n)
	}
	for _, o := range out {
		if o.Status != contract.StatusSucceeded {
			t.Errorf("%s: %s", o.Connector, o.Status)
		}
	}
}

func TestRotateCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	job := testJob(3)
	r, g, _ := setup(t, job, validBundle(t), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := r.Rotate(ctx, job, Request{Job: job.Name})
	if len(out) != 3 {
		t.Fatalf("got %d outcomes, want 3", len(out))
	}
	for _, o := range out {
		if o.Error == nil || o.Error.Code != "canceled" || o.Error.Class != ClassTransient || o.Final {
			t.Errorf("%s: %+v, want transient canceled, not final", o.Connector, o.Error)
		}
		if gets, _ := g.counts(o.Connector); gets != 0 {
			t.Errorf("%s read after cancel", o.Connector)
		}
	}
}

func TestRotateCanceledInFlight(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	g := newGraph()
	g.seed(conn1)
	entered := make(chan struct{})
	c := g.connector()
	c.UploadFunc = func(ctx context.Context, _, _ string, _ []byte, _ string) (ConnectorState, error) {
		close(entered)
		<-ctx.Done()
		return ConnectorState{}, Transient("network", errors.New("posting upload: connection reset"))
	}
	r := newTestRotator(t, sourceOf(materialOf(validBundle(t), 1)), c, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan []Outcome)
	go func() { done <- r.Rotate(ctx, job, Request{Job: job.Name}) }()
	recv(t, entered)
	cancel()
	out := recv(t, done)
	if e := out[0].Error; e == nil || e.Code != "canceled" || e.Class != ClassTransient || !strings.Contains(e.Message, "connection reset") {
		t.Errorf("error = %+v, want transient canceled keeping the adapter's message", e)
	}
}

func TestRotateMeasuresDuration(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	g := newGraph()
	for _, c := range job.Connectors {
		g.seed(c.ID)
	}
	clk := testkit.NewClock(testNow)
	tick := func() time.Time { clk.Add(3 * time.Millisecond); return clk.Now() }
	r, err := New(Config{Source: sourceOf(materialOf(validBundle(t), 1)), Connector: g.connector(), NowFunc: tick})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Rotate(t.Context(), job, Request{Job: job.Name}) {
		if o.DurationMS < 3 {
			t.Errorf("%s: duration %dms, want the injected clock's", o.Connector, o.DurationMS)
		}
	}
}

func TestRotateLogsOneLinePerOutcomeWithoutSecrets(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	job.Connectors = append(job.Connectors, ConnectorRef{Tenant: tenant, ID: "absent"})
	g := newGraph()
	g.seed(job.Connectors[0].ID)
	g.seed(job.Connectors[1].ID, soonCert)
	b := validBundle(t)
	var buf testkit.LogBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var outcomes int
	for _, m := range []Material{materialOf(b, 1), {PFX: b.PFX, Password: testPassword + "x"}} {
		r, err := New(Config{Source: sourceOf(m), Connector: g.connector(), Logger: log, NowFunc: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		outcomes += len(r.Rotate(t.Context(), job, Request{Job: job.Name}))
	}
	logs := buf.String()
	if n := strings.Count(logs, `"msg":"rotation outcome"`); n != outcomes {
		t.Errorf("%d outcome lines for %d outcomes:\n%s", n, outcomes, logs)
	}
	for _, secret := range []string{testPassword, string(b.PFX[:16]), fmt.Sprintf("%x", b.PFX[:16])} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"thumbprint":"`+b.Thumbprint) || !strings.Contains(logs, `"error_code":"bundle_password"`) {
		t.Errorf("logs miss thumbprint or error code:\n%s", logs)
	}
}

func TestRotateRecoversPanic(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	r, g, _ := setup(t, job, validBundle(t), nil)
	c := g.connector()
	c.GetFunc = func(ctx context.Context, tn, id string) (ConnectorState, error) {
		if id == job.Connectors[0].ID {
			panic("adapter bug holding hunter2")
		}
		return g.get(ctx, tn, id)
	}
	r.cfg.Connector = c
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if len(out) != 2 || out[0].Error == nil || out[0].Error.Code != "internal_panic" || out[1].Status != contract.StatusSucceeded {
		t.Errorf("outcomes = %+v, want a panic failure then a success", out)
	}
	if len(out) > 0 && out[0].Error != nil && strings.Contains(out[0].Error.Message, "hunter2") {
		t.Errorf("the panic's text reached the outcome: %q", out[0].Error.Message)
	}
}

// uploadGate holds every upload of a graph's connector at a barrier and
// keeps the peak of uploads in at once, so that a test sees a bound on
// concurrent connectors.
type uploadGate struct {
	cur, peak        atomic.Int32
	entered, release chan struct{}
}

func newUploadGate(uploads int) *uploadGate {
	return &uploadGate{entered: make(chan struct{}, uploads), release: make(chan struct{})}
}

// connector is g's connector with its uploads held at the gate.
func (u *uploadGate) connector(g *graph) fakeConnector {
	c := g.connector()
	c.UploadFunc = func(ctx context.Context, tn, id string, pfx []byte, pw string) (ConnectorState, error) {
		v := u.cur.Add(1)
		for p := u.peak.Load(); v > p && !u.peak.CompareAndSwap(p, v); p = u.peak.Load() {
		}
		u.entered <- struct{}{}
		<-u.release
		u.cur.Add(-1)
		return g.upload(ctx, tn, id, pfx, pw)
	}
	return c
}

// holds waits for bound uploads at the gate, checks that no more got in,
// and opens it.
func (u *uploadGate) holds(t *testing.T, bound int32) {
	t.Helper()
	for range bound {
		recv(t, u.entered)
	}
	// Give uploads beyond the bound every chance to (wrongly) get in
	// while the first ones are held.
	for i := 0; i < 1000 && u.cur.Load() <= bound; i++ {
		runtime.Gosched()
	}
	if got := u.cur.Load(); got != bound {
		t.Errorf("%d uploads at the barrier, want %d", got, bound)
	}
	close(u.release)
}
