package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// wantOutcome checks one connector's outcome status, reason and error code.
func wantOutcome(t *testing.T, o jobs.Outcome, status, reason, code string) {
	t.Helper()
	if o.Status != status || o.Reason != reason {
		t.Errorf("connector %s: outcome %s/%s, want %s/%s (error %+v)", o.Connector, o.Status, o.Reason, status, reason, o.Error)
	}
	got := ""
	if o.Error != nil {
		got = o.Error.Code
	}
	if got != code {
		t.Errorf("connector %s: error code %q, want %q", o.Connector, got, code)
	}
}

func TestRotateSeveralConnectors(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	b := validFor(t, 90*24*time.Hour, "p4ss-several")
	version := s.vault.PutBundle(t, mount, "b2c/several", b.PFX, b.Password)
	outs := byConnector(t, s.rotate(t, job("b2c/several", connectorIDs...), jobs.Request{Trigger: contract.TriggerCron}))
	if len(outs) != len(connectorIDs) {
		t.Fatalf("got %d outcomes, want %d", len(outs), len(connectorIDs))
	}
	for _, id := range connectorIDs {
		o := outs[id]
		wantOutcome(t, o, contract.StatusSucceeded, "", "")
		if o.Certificate == nil || o.Certificate.Thumbprint != b.Thumbprint || o.Certificate.SourceVersion != version {
			t.Errorf("connector %s: certificate %+v, want thumbprint %s version %d", id, o.Certificate, b.Thumbprint, version)
		}
		if o.Staged || !o.Final || o.Trigger != contract.TriggerCron || o.Tenant != tenantKey {
			t.Errorf("connector %s: outcome %+v", id, o)
		}
		if got := s.uploads(id); len(got) != 1 || got[0] != b.Thumbprint {
			t.Errorf("connector %s: uploads %v, want [%s]", id, got, b.Thumbprint)
		}
		if got := s.active(t, id); got != b.Thumbprint {
			t.Errorf("connector %s: active %s, want %s", id, got, b.Thumbprint)
		}
	}
}

func TestRotateIdenticalBundleSkips(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	s.put(t, "b2c/same", validFor(t, 90*24*time.Hour, "p4ss-same"))
	j := job("b2c/same", connectorIDs[0])
	wantOutcome(t, s.rotateFirst(t, j, jobs.Request{}), contract.StatusSucceeded, "", "")
	again := s.rotateFirst(t, j, jobs.Request{})
	wantOutcome(t, again, contract.StatusSkipped, contract.ReasonAlreadyPresent, "")
	if got := s.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want exactly one", got)
	}
}

func TestRotateOlderBundleNotNewer(t *testing.T) {
	t.Parallel()
	now := time.Now()
	held := graphsim.Cert{Thumbprint: strings.Repeat("AB", 20), NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	s := setup(t, map[string][]graphsim.Cert{connectorIDs[0]: {held}})
	s.put(t, "b2c/older", validFor(t, 90*24*time.Hour, "p4ss-older"))
	o := s.rotateFirst(t, job("b2c/older", connectorIDs[0]), jobs.Request{})
	wantOutcome(t, o, contract.StatusSkipped, contract.ReasonNotNewer, "")
	if o.Previous == nil || o.Previous.Thumbprint != held.Thumbprint {
		t.Errorf("previous %+v, want the held certificate", o.Previous)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Errorf("uploads %v, want none", got)
	}
}

// TestRotateForceRollsBack uploads A, then the newer B, then forces A back:
// A becomes the active certificate again.
func TestRotateForceRollsBack(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	a := validFor(t, 60*24*time.Hour, "p4ss-a")
	bNew := validFor(t, 120*24*time.Hour, "p4ss-b")
	j := job("b2c/rollback", connectorIDs[0])
	s.vault.PutBundle(t, mount, "b2c/rollback", a.PFX, a.Password)
	s.rotate(t, j, jobs.Request{})
	s.vault.PutBundle(t, mount, "b2c/rollback", bNew.PFX, bNew.Password)
	s.rotate(t, j, jobs.Request{})
	if got := s.active(t, connectorIDs[0]); got != bNew.Thumbprint {
		t.Fatalf("active %s after the newer bundle, want %s", got, bNew.Thumbprint)
	}
	s.vault.PutBundle(t, mount, "b2c/rollback", a.PFX, a.Password)
	plain := s.rotateFirst(t, j, jobs.Request{})
	// A is listed but B, active, expires later: rule 3 says not_newer (rule 2
	// skips as present only an active listing).
	wantOutcome(t, plain, contract.StatusSkipped, contract.ReasonNotNewer, "")
	forced := s.rotateFirst(t, j, jobs.Request{Force: true, Reason: "rollback"})
	wantOutcome(t, forced, contract.StatusSucceeded, "", "")
	if got := s.active(t, connectorIDs[0]); got != a.Thumbprint {
		t.Errorf("active %s after the forced rollback, want %s", got, a.Thumbprint)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 3 {
		t.Errorf("uploads %v, want A, B, A", got)
	}
}

func TestRotateStagedBundle(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	s.put(t, "b2c/staged", bundleFrom(t, 48*time.Hour, 90*24*time.Hour, testkit.BundleSpec{CN: "staged.e2e.example", Password: "p4ss-staged"}))
	o := s.rotateFirst(t, job("b2c/staged", connectorIDs[0]), jobs.Request{})
	wantOutcome(t, o, contract.StatusSucceeded, "", "")
	if !o.Staged {
		t.Errorf("staged = false, want true for a future notBefore")
	}
	if got := s.active(t, connectorIDs[0]); got != "" {
		t.Errorf("active %s, want none until notBefore", got)
	}
}

func TestRotateThrottledThenSucceeds(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	s.put(t, "b2c/throttled", validFor(t, 90*24*time.Hour, "p4ss-429"))
	s.graph.FailNext(1, graphsim.Fault{Status: 429, RetryAfter: "3"})
	o := s.rotateFirst(t, job("b2c/throttled", connectorIDs[0]), jobs.Request{})
	wantOutcome(t, o, contract.StatusSucceeded, "", "")
	if w := s.waits.All(); len(w) != 1 || w[0] != 3*time.Second {
		t.Errorf("waits %v, want one of 3s as Retry-After said", w)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want one", got)
	}
}

// TestRotatePermanent400 sends an AES-protected file as it is (reencode off):
// B2C refuses it with AADB2C90213 and the failure is permanent and final.
func TestRotatePermanent400(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	s.put(t, "b2c/aes", bundleFrom(t, -time.Hour, 90*24*time.Hour, testkit.BundleSpec{CN: "aes.e2e.example", Password: "p4ss-aes", Encoder: testkit.AES256}))
	j := job("b2c/aes", connectorIDs[0])
	j.Reencode = false
	o := s.rotateFirst(t, j, jobs.Request{})
	wantOutcome(t, o, contract.StatusFailed, "", "AADB2C90213")
	if o.Error == nil || o.Error.Class != jobs.ClassPermanent || !o.Final || o.Error.RequestID == "" {
		t.Errorf("error %+v final %v, want permanent, final, with Graph's request id", o.Error, o.Final)
	}
	// The same file re-encoded as SHA1/3DES is accepted.
	j.Reencode = true
	wantOutcome(t, s.rotateFirst(t, j, jobs.Request{}), contract.StatusSucceeded, "", "")
}

func TestRotateWrongVaultPasswordUploadsNothing(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	b := validFor(t, 90*24*time.Hour, "right-password")
	s.vault.PutBundle(t, mount, "b2c/wrongpw", b.PFX, "wrong-password")
	outs := byConnector(t, s.rotate(t, job("b2c/wrongpw", connectorIDs...), jobs.Request{}))
	for _, id := range connectorIDs {
		wantOutcome(t, outs[id], contract.StatusFailed, "", "bundle_password")
		if outs[id].Error != nil && outs[id].Error.Class != jobs.ClassPermanent {
			t.Errorf("class %s, want permanent", outs[id].Error.Class)
		}
	}
	for _, r := range s.graph.Requests() {
		if r.Method == "POST" && strings.Contains(r.Path, "uploadClientCertificate") {
			t.Errorf("a bad bundle reached a connector: %s %s", r.Method, r.Path)
		}
	}
}

func TestRotateMissingSecretIsPermanent(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	o := s.rotateFirst(t, job("b2c/nothing-here", connectorIDs[0]), jobs.Request{})
	wantOutcome(t, o, contract.StatusFailed, "", "source_not_found")
	if o.Error != nil && o.Error.Class != jobs.ClassPermanent {
		t.Errorf("class %s, want permanent", o.Error.Class)
	}
}
