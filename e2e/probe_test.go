package e2e

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/probe"
	"github.com/certrotator/certrotator/probe/probetest"
	"github.com/certrotator/certrotator/worker"
)

// probing is the stack's pipeline with a prober that trusts api's server
// certificate, and a job that probes the connector's targetUrl.
func probing(t *testing.T, s *stack, api *probetest.API, path string) (*jobs.Rotator, jobs.Job) {
	t.Helper()
	for _, id := range connectorIDs {
		s.graph.SetTargetURL(tenantID, id, api.URL())
	}
	r, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Logger: loggerTo(s.logs), Prober: &probe.Prober{RootCAs: api.RootCAs()}})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	j := job(path, connectorIDs[0])
	j.Probe = &jobs.ProbeSpec{Method: "POST", Body: "{}", Timeout: 10 * time.Second}
	return r, j
}

// TestProbePinningAPIRejectsThenRetryUploads: an API that pins thumbprints
// and does not know the new one yet gets nothing uploaded, the connector
// stays exactly as it was, and the outcome is a transient
// api_rejects_certificate (final on the last attempt); once its owner pins
// the thumbprint, the retry uploads.
func TestProbePinningAPIRejectsThenRetryUploads(t *testing.T) {
	t.Parallel()
	now := time.Now()
	old := graphsim.Cert{Thumbprint: strings.Repeat("AB", 20), NotBefore: now.Add(-60 * 24 * time.Hour), NotAfter: now.Add(20 * 24 * time.Hour)}
	s := setup(t, map[string][]graphsim.Cert{connectorIDs[0]: {old}})
	api := probetest.Pinning(t)
	b := validFor(t, 90*24*time.Hour, "p4ss-pinning")
	s.vault.PutBundle(t, mount, "b2c/pinning", b.PFX, b.Password)
	rot, j := probing(t, s, api, "b2c/pinning")
	j.MaxAttempts = 2
	before := s.graph.Certificates(tenantID, connectorIDs[0])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt, final := range []bool{false, true} {
		outs := byConnector(t, rot.Rotate(ctx, j, jobs.Request{Job: j.Name, ID: "pin-1", Attempt: attempt + 1}))
		o := outs[connectorIDs[0]]
		wantOutcome(t, o, jobs.StatusFailed, "", jobs.CodeAPIRejectsCertificate)
		if o.Error.Class != jobs.ClassTransient || o.Final != final {
			t.Errorf("attempt %d: class %s final %v, want transient final %v", attempt+1, o.Error.Class, o.Final, final)
		}
		if !strings.Contains(o.Error.Message, "HTTP 403") || !strings.Contains(o.Error.Message, b.Thumbprint) {
			t.Errorf("the outcome does not say what the API answered: %q", o.Error.Message)
		}
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v after a rejection, want none", got)
	}
	if after := s.graph.Certificates(tenantID, connectorIDs[0]); !reflect.DeepEqual(before, after) {
		t.Fatalf("the connector changed: before %+v, after %+v", before, after)
	}

	api.Pin(b.Thumbprint)
	outs := byConnector(t, rot.Rotate(ctx, j, jobs.Request{Job: j.Name, ID: "pin-2", Attempt: 1}))
	wantOutcome(t, outs[connectorIDs[0]], jobs.StatusSucceeded, "", "")
	if got := s.uploads(connectorIDs[0]); len(got) != 1 || got[0] != b.Thumbprint {
		t.Fatalf("uploads %v, want [%s]", got, b.Thumbprint)
	}
}

// TestProbeVerifyingAPIAcceptsKitCertificate: an API with mutual TLS
// against the bundle's CA accepts it, and the upload goes ahead with no
// unauthenticated warning.
func TestProbeVerifyingAPIAcceptsKitCertificate(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	b := validFor(t, 90*24*time.Hour, "p4ss-mtls")
	api := probetest.VerifyingCA(t, testkit.CA(t).Cert) // the bundle's issuer
	s.vault.PutBundle(t, mount, "b2c/mtls", b.PFX, b.Password)
	rot, j := probing(t, s, api, "b2c/mtls")
	outs := s.rotateWith(t, rot, j, "mtls-1")
	if len(outs) != 1 {
		t.Fatalf("outcomes %+v, want one (no warning)", outs)
	}
	wantOutcome(t, outs[0], jobs.StatusSucceeded, "", "")
}

func (s *stack) rotateWith(t *testing.T, rot *jobs.Rotator, j jobs.Job, id string) []jobs.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return rot.Rotate(ctx, j, jobs.Request{Job: j.Name, ID: id})
}

// TestWorkerProbeOpenAPIWarnsOncePerDay: through NATS, an API that accepts
// calls without a client certificate gets the upload (it accepts the new
// certificate too) and one certrotator.api.unauthenticated event, counted
// in its own metric and kept out of the connector's status; the next
// rotation the same day announces it no more.
func TestWorkerProbeOpenAPIWarnsOncePerDay(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	api := probetest.Open(t)
	b := validFor(t, 90*24*time.Hour, "p4ss-open")
	s.vault.PutBundle(t, mount, "b2c/open", b.PFX, b.Password)
	_, j := probing(t, s, api, "b2c/open")
	nc, ch, request := startProbing(t, s, api, j)
	request("open-1", false)
	got := waitEvents(t, ch, "open-1", 2)
	types := map[string]bool{}
	for _, ev := range got {
		types[ev.Type] = true
	}
	if !types["certrotator.rotation.succeeded"] || !types["certrotator.api.unauthenticated"] {
		t.Fatalf("event types %v, want a success and an unauthenticated warning", types)
	}
	status := statusOf(t, nc, j.Name, connectorIDs[0])
	if status.Status != jobs.StatusSucceeded {
		t.Errorf("the status record holds %q, want the rotation's succeeded (a warning is no status)", status.Status)
	}

	// Two forced rotations later the same day: each uploads again and is
	// probed again, and neither announces the warning a second time.
	request("open-2", true)
	request("open-3", true)
	waitEvents(t, ch, "open-3", 1)
	for _, id := range []string{"open-2", "open-3"} {
		for _, ev := range ch.of(id) {
			if ev.Type == "certrotator.api.unauthenticated" {
				t.Errorf("request %s announced the unauthenticated API again the same day", id)
			}
		}
	}
	if n := api.Calls(); n < 6 {
		t.Errorf("the API saw %d calls, want 2 per rotation (with and without a certificate)", n)
	}
}

// startProbing starts a worker (one request at a time, so that events
// arrive in order) whose rotator probes api, and returns a connection, the
// events it collects, and a way to request a rotation of j.
func startProbing(t *testing.T, s *stack, api *probetest.API, j jobs.Job) (*nats.Conn, *collector, func(id string, force bool)) {
	t.Helper()
	ns := natsServer(t, "")
	app := appConfig("w1", ns.ClientURL(), j)
	app.Concurrency = 1
	b := bustest.Config(t, app)
	rot, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Warnings: worker.NewWarnings(b.JetStream()), Logger: loggerTo(s.logs),
		Prober: &probe.Prober{RootCAs: api.RootCAs()}})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	startWorkerOn(t, s, app, b, rot, 0)
	nc := connect(t, ns.ClientURL())
	ch := events(t, nc)
	return nc, ch, func(id string, force bool) {
		t.Helper()
		msg := nats.NewMsg("certrotation.request." + j.Name)
		msg.Header.Set(nats.MsgIdHdr, id)
		body, _ := json.Marshal(jobs.Request{Job: j.Name, Force: force, RequestedBy: "e2e"})
		msg.Data = body
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatalf("publishing: %v", err)
		}
	}
}

// TestWorkerProbeRejectedThenRetryUploads: through NATS, the API rejects
// the certificate (a failed, non-final event; nothing uploaded); its owner
// pins the thumbprint, and the worker's own retry of the same request
// uploads.
func TestWorkerProbeRejectedThenRetryUploads(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	api := probetest.Pinning(t)
	b := validFor(t, 90*24*time.Hour, "p4ss-retry")
	s.vault.PutBundle(t, mount, "b2c/retry", b.PFX, b.Password)
	_, j := probing(t, s, api, "b2c/retry")
	_, ch, request := startProbing(t, s, api, j)
	request("retry-1", false)
	first := waitEvents(t, ch, "retry-1", 1)[0]
	if first.Type != "certrotator.rotation.failed" || first.Data.Error == nil || first.Data.Error.Code != jobs.CodeAPIRejectsCertificate || first.Data.Final {
		t.Fatalf("first event %+v, want a failed, non-final api_rejects_certificate", first)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v after a rejection", got)
	}
	api.Pin(b.Thumbprint)
	deadline := time.After(eventTimeout)
	for {
		for _, ev := range ch.of("retry-1") {
			if ev.Type == "certrotator.rotation.succeeded" {
				if ev.Data.Attempt < 2 {
					t.Errorf("succeeded on attempt %d, want a retry", ev.Data.Attempt)
				}
				if got := s.uploads(connectorIDs[0]); len(got) != 1 || got[0] != b.Thumbprint {
					t.Errorf("uploads %v, want [%s]", got, b.Thumbprint)
				}
				return
			}
		}
		select {
		case <-ch.notify:
		case <-deadline:
			t.Fatalf("no success for retry-1 after pinning; events %+v", ch.of("retry-1"))
		}
	}
}

// statusOf reads a connector's status record from the status bucket.
func statusOf(t *testing.T, nc *nats.Conn, job, id string) contract.StatusRecord {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, contract.StatusBucket)
	if err != nil {
		t.Fatalf("status bucket: %v", err)
	}
	e, err := kv.Get(ctx, contract.StatusKey(job, id))
	if err != nil {
		t.Fatalf("status %s/%s: %v", job, id, err)
	}
	var rec contract.StatusRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatalf("decoding status: %v", err)
	}
	return rec
}

// TestProbeStagedBundle: a staged bundle (notBefore ahead) is probed with
// the new, not yet valid certificate before its upload. An API that
// verifies the chain (dates included) rejects it; one that pins the
// thumbprint accepts it, and the staged upload goes ahead.
func TestProbeStagedBundle(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	now := time.Now()
	b := testkit.NewBundle(t, testkit.BundleSpec{CN: "api.e2e.example", NotBefore: now.Add(48 * time.Hour), NotAfter: now.Add(120 * 24 * time.Hour), Password: "p4ss-staged"})
	s.vault.PutBundle(t, mount, "b2c/staged", b.PFX, b.Password)

	verifying := probetest.VerifyingCA(t, testkit.CA(t).Cert)
	rot, j := probing(t, s, verifying, "b2c/staged")
	outs := byConnector(t, s.rotateWith(t, rot, j, "staged-1"))
	wantOutcome(t, outs[connectorIDs[0]], jobs.StatusFailed, "", jobs.CodeAPIRejectsCertificate)
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v, want none", got)
	}

	pinning := probetest.Pinning(t)
	pinning.Pin(b.Thumbprint)
	rot, j = probing(t, s, pinning, "b2c/staged")
	outs = byConnector(t, s.rotateWith(t, rot, j, "staged-2"))
	o := outs[connectorIDs[0]]
	wantOutcome(t, o, jobs.StatusSucceeded, "", "")
	if !o.Staged {
		t.Errorf("outcome %+v, want staged", o)
	}
}
