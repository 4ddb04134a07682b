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

	for attempt, final := range []bool{false, true} {
		outs := byConnector(t, s.rotateBy(t, rot, j, jobs.Request{ID: "pin-1", Attempt: attempt + 1}))
		o := outs[connectorIDs[0]]
		wantOutcome(t, o, contract.StatusFailed, "", jobs.CodeAPIRejectsCertificate)
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
	outs := byConnector(t, s.rotateBy(t, rot, j, jobs.Request{ID: "pin-2", Attempt: 1}))
	wantOutcome(t, outs[connectorIDs[0]], contract.StatusSucceeded, "", "")
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
	outs := s.rotateBy(t, rot, j, jobs.Request{ID: "mtls-1"})
	if len(outs) != 1 {
		t.Fatalf("outcomes %+v, want one (no warning)", outs)
	}
	wantOutcome(t, outs[0], contract.StatusSucceeded, "", "")
}

// TestWorkerProbeOpenAPIWarnsOncePerDay: through NATS, an API that accepts
// calls without a client certificate gets the upload (it accepts the new
// certificate too) and one certrotator.api.unauthenticated event, counted
// in its own metric and kept out of the connector's status; the next
// rotation the same day announces it no more.
func TestWorkerProbeOpenAPIWarnsOncePerDay(t *testing.T) {
	t.Parallel()
	api := probetest.Open(t)
	p := startProbing(t, setup(t, nil), api, "open")
	p.ask(t, "open-1", false)
	got := p.wait(t, "open-1", 2)
	types := map[string]bool{}
	for _, ev := range got {
		types[ev.Type] = true
	}
	if !types["certrotator.rotation.succeeded"] || !types["certrotator.api.unauthenticated"] {
		t.Fatalf("event types %v, want a success and an unauthenticated warning", types)
	}
	status := statusOf(t, p.nc, p.j.Name, connectorIDs[0])
	if status.Status != contract.StatusSucceeded {
		t.Errorf("the status record holds %q, want the rotation's succeeded (a warning is no status)", status.Status)
	}

	// Two forced rotations later the same day: each uploads again and is
	// probed again, and neither announces the warning a second time.
	p.ask(t, "open-2", true)
	p.ask(t, "open-3", true)
	p.wait(t, "open-3", 1)
	for _, id := range []string{"open-2", "open-3"} {
		for _, ev := range p.ev.Of(id) {
			if ev.Type == "certrotator.api.unauthenticated" {
				t.Errorf("request %s announced the unauthenticated API again the same day", id)
			}
		}
	}
	if n := api.Calls(); n < 6 {
		t.Errorf("the API saw %d calls, want 2 per rotation (with and without a certificate)", n)
	}
}

// startProbing prepares the scenario name on the first connector and
// starts its worker (one request at a time, so that events arrive in
// order) with a rotator that probes api.
func startProbing(t *testing.T, s *stack, api *probetest.API, name string) *scenario {
	t.Helper()
	sc := s.prepare(t, name, connectorIDs[0])
	_, sc.j = probing(t, s, api, sc.j.Source.Path)
	app := appConfig("w1", sc.url, sc.j)
	app.Concurrency = 1
	wbus := bustest.Config(t, app)
	rot, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Warnings: worker.NewWarnings(wbus.JetStream()), Logger: loggerTo(s.logs),
		Prober: &probe.Prober{RootCAs: api.RootCAs()}})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	startWorkerOn(t, s, app, wbus, rot, 0)
	return sc
}

// ask requests a rotation of the scenario's job as a plain client would.
func (sc *scenario) ask(t *testing.T, id string, force bool) {
	t.Helper()
	body, _ := json.Marshal(jobs.Request{Job: sc.j.Name, Force: force, RequestedBy: "e2e"})
	sc.publishPlain(t, sc.j.Name, id, body)
}

// TestWorkerProbeRejectedThenRetryUploads: through NATS, the API rejects
// the certificate (a failed, non-final event; nothing uploaded); its owner
// pins the thumbprint, and the worker's own retry of the same request
// uploads.
func TestWorkerProbeRejectedThenRetryUploads(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	api := probetest.Pinning(t)
	p := startProbing(t, s, api, "retry")
	p.ask(t, "retry-1", false)
	first := p.wait(t, "retry-1", 1)[0]
	if first.Type != "certrotator.rotation.failed" || first.Data.Error == nil || first.Data.Error.Code != jobs.CodeAPIRejectsCertificate || first.Data.Final {
		t.Fatalf("first event %+v, want a failed, non-final api_rejects_certificate", first)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v after a rejection", got)
	}
	api.Pin(p.b.Thumbprint)
	won := waitFor(t, p.ev, "retry-1", "success after pinning", func(ev contract.Event) bool { return ev.Type == "certrotator.rotation.succeeded" })
	if won.Data.Attempt < 2 {
		t.Errorf("succeeded on attempt %d, want a retry", won.Data.Attempt)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 1 || got[0] != p.b.Thumbprint {
		t.Errorf("uploads %v, want [%s]", got, p.b.Thumbprint)
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
	b := s.put(t, "b2c/staged", bundleFrom(t, 48*time.Hour, 120*24*time.Hour, testkit.BundleSpec{CN: "api.e2e.example", Password: "p4ss-staged"}))

	verifying := probetest.VerifyingCA(t, testkit.CA(t).Cert)
	rot, j := probing(t, s, verifying, "b2c/staged")
	outs := byConnector(t, s.rotateBy(t, rot, j, jobs.Request{ID: "staged-1"}))
	wantOutcome(t, outs[connectorIDs[0]], contract.StatusFailed, "", jobs.CodeAPIRejectsCertificate)
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v, want none", got)
	}

	pinning := probetest.Pinning(t)
	pinning.Pin(b.Thumbprint)
	rot, j = probing(t, s, pinning, "b2c/staged")
	outs = byConnector(t, s.rotateBy(t, rot, j, jobs.Request{ID: "staged-2"}))
	o := outs[connectorIDs[0]]
	wantOutcome(t, o, contract.StatusSucceeded, "", "")
	if !o.Staged {
		t.Errorf("outcome %+v, want staged", o)
	}
}
