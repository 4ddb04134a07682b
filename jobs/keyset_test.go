package jobs_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// These tests run the Rotator against the real Graph client and graphsim.

const (
	ksTenantKey = "contoso"
	ksTenantID  = "8a1c2b3d-0000-4000-8000-00000000c0de"
	ksClientID  = "11111111-1111-1111-1111-111111111111"
	ksSecret    = "graphsim-s3cret~Zq9.value"
	ksConnID    = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	ksID        = "B2C_1A_RestApiClientCertificate"
	ksPassword  = "pfx-pass-Zq81"
	ksDay       = 24 * time.Hour
)

var ksStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newKSBundle is an RSA certificate valid from nb to na in a PFX B2C
// accepts (SHA1/3DES), self-signed.
func newKSBundle(t *testing.T, nb, na time.Time) testkit.Bundle {
	t.Helper()
	return testkit.NewBundle(t, testkit.BundleSpec{
		NotBefore: nb, NotAfter: na, Key: testkit.RSAKey(t, 2048), SelfSigned: true, Password: ksPassword,
	})
}

// memSource serves one bundle, swappable.
type memSource struct {
	mu sync.Mutex
	b  testkit.Bundle
}

func (s *memSource) Fetch(context.Context, jobs.SourceRef) (jobs.Material, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return jobs.Material{PFX: s.b.PFX, Password: ksPassword, Version: 1}, nil
}

type ksHarness struct {
	sim   *graphsim.Server
	clock *testkit.Clock
	src   *memSource
	rot   *jobs.Rotator
	job   jobs.Job
}

// newKSHarness starts graphsim with one connector and one key set holding
// seed, and a Rotator whose job binds both (the key set only when
// connector is false).
func newKSHarness(t *testing.T, b testkit.Bundle, withConnector bool, seed ...graphsim.Key) *ksHarness {
	t.Helper()
	clock := testkit.NewClock(ksStart) // the one clock of the emulator and the Rotator
	sim := graphsim.NewTest(t).
		AddTenant(ksTenantID, ksClientID, ksSecret).
		AddConnector(ksTenantID, ksConnID, "contoso-api").
		AddKeySet(ksTenantID, ksID, seed...).
		WithClock(clock.Now).
		Start()
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	client, err := connector.New(connector.Config{
		Tenants: map[string]connector.Tenant{ksTenantKey: {
			TenantID: ksTenantID, ClientID: ksClientID, ClientSecret: ksSecret, AuthorityURL: sim.URL(), GraphURL: sim.URL(),
		}},
		Transport: transport,
		NowFunc:   clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{b: b}
	rot, err := jobs.New(jobs.Config{Source: src, Connector: client, KeySets: client, NowFunc: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	job := jobs.Job{
		Name:        "contoso-api",
		Source:      jobs.SourceRef{Mount: "secret", Path: "b2c/contoso-api", PFXField: "pfx", PasswordField: "password"},
		Policy:      jobs.PolicyOnChange,
		MinValidity: ksDay,
		WarnBefore:  []time.Duration{},
		MaxAttempts: 3,
		KeySets:     []jobs.KeySetRef{{Tenant: ksTenantKey, ID: ksID}},
	}
	if withConnector {
		job.Connectors = []jobs.ConnectorRef{{Tenant: ksTenantKey, ID: ksConnID}}
	}
	return &ksHarness{sim: sim, clock: clock, src: src, rot: rot, job: job}
}

func (h *ksHarness) run(t *testing.T) []jobs.Outcome {
	t.Helper()
	return h.rot.Rotate(t.Context(), h.job, jobs.Request{Job: h.job.Name, ID: "req-" + h.clock.Now().Format(time.RFC3339Nano), Trigger: contract.TriggerManual})
}

// keySetOutcome returns the key set's outcome (not a warning).
func keySetOutcome(t *testing.T, out []jobs.Outcome) jobs.Outcome {
	t.Helper()
	for _, o := range out {
		if o.TargetKind == jobs.KindKeySet && !o.Warning() {
			return o
		}
	}
	t.Fatalf("no key set outcome among %+v", out)
	return jobs.Outcome{}
}

// wantAlreadyPresent runs the job again and wants it skipped: the key set
// holds the bundle already. when names the run in the error.
func (h *ksHarness) wantAlreadyPresent(t *testing.T, when string) {
	t.Helper()
	if o := keySetOutcome(t, h.run(t)); o.Status != contract.StatusSkipped || o.Reason != contract.ReasonAlreadyPresent {
		t.Errorf("%s: %s %s, want skipped already_present", when, o.Status, o.Reason)
	}
}

// wantUploads wants n keys uploaded to the key set so far; why says what
// the count shows.
func (h *ksHarness) wantUploads(t *testing.T, n int, why string) {
	t.Helper()
	if got := len(h.sim.KeyUploads(ksTenantID, ksID)); got != n {
		t.Errorf("%d uploads to the key set, want %d: %s", got, n, why)
	}
}

func (h *ksHarness) activeThumbprint(t *testing.T) string {
	t.Helper()
	for _, k := range h.sim.Keys(ksTenantID, ksID) {
		if k.Active {
			return jobs.PolicyKey{X5t: k.X5t}.Thumbprint()
		}
	}
	return ""
}

func TestKeySetFirstUploadThenAlreadyPresent(t *testing.T) {
	t.Parallel()
	b := newKSBundle(t, ksStart.Add(-ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, true)
	plan := h.rot.Plan(t.Context(), h.job, jobs.Request{Job: h.job.Name, Trigger: contract.TriggerManual})
	if len(plan) != 2 || plan[1].TargetKind != jobs.KindKeySet || plan[1].Connector != ksID || plan[1].Action != jobs.ActionUpload {
		t.Errorf("plan %+v, want the key set to upload", plan)
	}
	if n := len(h.sim.KeyUploads(ksTenantID, ksID)); n != 0 {
		t.Fatalf("plan uploaded %d keys", n)
	}
	out := h.run(t)
	if len(out) != 2 {
		t.Fatalf("outcomes %+v, want one per target", out)
	}
	if c := out[0]; c.TargetKind != jobs.KindConnector || c.Connector != ksConnID || c.Status != contract.StatusSucceeded {
		t.Errorf("connector outcome %+v", c)
	}
	o := keySetOutcome(t, out)
	if o.Status != contract.StatusSucceeded || o.Connector != ksID || o.Staged || o.Certificate == nil || o.Certificate.Thumbprint != b.Thumbprint {
		t.Errorf("first upload: %+v (error %+v)", o, o.Error)
	}
	h.wantUploads(t, 1, "after the first run")
	if got := h.activeThumbprint(t); got != b.Thumbprint {
		t.Errorf("active key %s, want the bundle's %s", got, b.Thumbprint)
	}
	h.wantAlreadyPresent(t, "second run")
	h.wantUploads(t, 1, "after the second run")
}

func TestKeySetStagedThenActive(t *testing.T) {
	t.Parallel()
	old := graphsim.Key{Kid: "old", NotBefore: ksStart.Add(-100 * ksDay), NotAfter: ksStart.Add(10 * ksDay)}
	b := newKSBundle(t, ksStart.Add(2*ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, false, old)
	o := keySetOutcome(t, h.run(t))
	if o.Status != contract.StatusSucceeded || !o.Staged || o.Previous == nil || o.Previous.Kid != "old" {
		t.Fatalf("staged upload: %+v (error %+v)", o, o.Error)
	}
	if got := h.activeThumbprint(t); got == b.Thumbprint {
		t.Errorf("a key whose nbf is ahead is active already")
	}
	h.wantAlreadyPresent(t, "staged key, second run")
	h.clock.Add(3 * ksDay)
	if got := h.activeThumbprint(t); got != b.Thumbprint {
		t.Fatalf("after its nbf the staged key is not active (active %s)", got)
	}
	h.wantAlreadyPresent(t, "active key")
	h.wantUploads(t, 1, "one key, staged then active")
}

func TestKeySetExpiredActiveKeyReplaced(t *testing.T) {
	t.Parallel()
	expired := graphsim.Key{Kid: "expired", NotBefore: ksStart.Add(-400 * ksDay), NotAfter: ksStart.Add(-ksDay)}
	b := newKSBundle(t, ksStart.Add(-ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, false, expired)
	o := keySetOutcome(t, h.run(t))
	if o.Status != contract.StatusSucceeded || o.Previous != nil {
		t.Fatalf("expired active key: %+v (error %+v), want succeeded with no previous active key", o, o.Error)
	}
	if got := h.activeThumbprint(t); got != b.Thumbprint {
		t.Errorf("active %s, want the bundle's", got)
	}
}

func TestKeySetMissingContainerAndPermission(t *testing.T) {
	t.Parallel()
	b := newKSBundle(t, ksStart.Add(-ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, false)
	h.job.KeySets = []jobs.KeySetRef{{Tenant: ksTenantKey, ID: "B2C_1A_Missing"}}
	o := keySetOutcome(t, h.run(t))
	if o.Status != contract.StatusFailed || o.Error == nil || o.Error.Class != jobs.ClassPermanent || o.Error.Code != "Request_ResourceNotFound" ||
		!strings.Contains(o.Error.Message, "create it in the Azure portal") || !o.Final {
		t.Errorf("missing container: %+v %+v", o, o.Error)
	}
	h.job.KeySets = []jobs.KeySetRef{{Tenant: ksTenantKey, ID: ksID}}
	h.sim.DenyKeySets(ksTenantID, ksClientID, true)
	o = keySetOutcome(t, h.run(t))
	if o.Status != contract.StatusFailed || o.Error == nil || o.Error.Class != jobs.ClassPermanent || o.Error.Code != "Authorization_RequestDenied" ||
		!strings.Contains(o.Error.Message, "TrustFrameworkKeySet.ReadWrite.All") {
		t.Errorf("denied: %+v %+v", o, o.Error)
	}
	h.wantUploads(t, 0, "a missing container and a denial upload nothing")
}

// TestKeySetSupersededByHand: after our upload, someone uploads a key with
// a later activation date in the portal. The run reports it (skipped
// superseded naming that key and its expiry, and a warning) and does not
// upload again: no upload could make ours active.
func TestKeySetSupersededByHand(t *testing.T) {
	t.Parallel()
	b := newKSBundle(t, ksStart.Add(-2*ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, false)
	if o := keySetOutcome(t, h.run(t)); o.Status != contract.StatusSucceeded {
		t.Fatalf("first upload: %+v %+v", o, o.Error)
	}
	byHand := graphsim.Key{Kid: "by-hand", NotBefore: ksStart.Add(-ksDay), NotAfter: ksStart.Add(400 * ksDay)}
	h.sim.AddKey(ksTenantID, ksID, byHand)
	// A newer bundle that still activates before the hand-made key.
	h.src.mu.Lock()
	h.src.b = newKSBundle(t, ksStart.Add(-36*time.Hour), ksStart.Add(120*ksDay))
	h.src.mu.Unlock()
	for range 2 {
		out := h.run(t)
		o := keySetOutcome(t, out)
		if o.Status != contract.StatusSkipped || o.Reason != jobs.ReasonSuperseded || o.Previous == nil ||
			o.Previous.Kid != "by-hand" || !o.Previous.NotAfter.Equal(byHand.NotAfter) {
			t.Errorf("superseded: %+v previous %+v", o, o.Previous)
		}
		var warned bool
		for _, w := range out {
			if w.Status == jobs.StatusSuperseded && w.Warning() && strings.Contains(w.Reason, "by-hand") &&
				w.EventType() == "certrotator.keyset.superseded" {
				warned = true
			}
		}
		if !warned {
			t.Errorf("no superseded warning among %+v", out)
		}
	}
	h.wantUploads(t, 1, "the hand-made key must not be fought")
}

// onceAt is a Schedule that fires once.
type onceAt time.Time

func (o onceAt) Next(t time.Time) time.Time {
	if t.Before(time.Time(o)) {
		return time.Time(o)
	}
	return time.Time{}
}

// TestKeySetOutsideChangeWindow: a key set's upload waits for the job's
// change window like a connector's.
func TestKeySetOutsideChangeWindow(t *testing.T) {
	t.Parallel()
	b := newKSBundle(t, ksStart.Add(-ksDay), ksStart.Add(90*ksDay))
	h := newKSHarness(t, b, false)
	opens := ksStart.Add(ksDay)
	h.job.Windows = []jobs.Window{{Spec: "tomorrow", Start: onceAt(opens), Duration: time.Hour}}
	o := keySetOutcome(t, h.run(t))
	if o.Status != contract.StatusSkipped || o.Reason != jobs.ReasonOutsideWindow || o.NextWindow == nil || !o.NextWindow.Equal(opens) {
		t.Errorf("outside the window: %+v", o)
	}
	h.wantUploads(t, 0, "outside the window")
	h.clock.Add(ksDay + time.Minute)
	if o := keySetOutcome(t, h.run(t)); o.Status != contract.StatusSucceeded {
		t.Errorf("inside the window: %+v %+v", o, o.Error)
	}
}
