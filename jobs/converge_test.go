package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// TestDecideConverges: rule 2 skips only an active (or staged) listing; a
// valid inactive one overtaken by an older active certificate is uploaded
// again, and an inactive one behind a later-expiring active one is not.
func TestDecideConverges(t *testing.T) {
	t.Parallel()
	now := testNow
	ours := candidate{Thumbprint: "AA", NotBefore: now.Add(-day), NotAfter: now.Add(90 * day)}
	older := Certificate{Thumbprint: "BB", NotBefore: now.Add(-30 * day), NotAfter: now.Add(30 * day), IsActive: true}
	newer := Certificate{Thumbprint: "CC", NotBefore: now.Add(-day), NotAfter: now.Add(200 * day), IsActive: true}
	listed := func(active bool) Certificate {
		return Certificate{Thumbprint: "aa", NotBefore: ours.NotBefore, NotAfter: ours.NotAfter, IsActive: active}
	}
	job := Job{Name: "j", Policy: PolicyOnChange}
	for _, tt := range []struct {
		name  string
		certs []Certificate
		c     candidate
		want  decision
	}{
		{"listed and active", []Certificate{older, listed(true)}, ours, decision{skip: contract.ReasonAlreadyPresent}},
		{"rolled back by an older upload", []Certificate{listed(false), older}, ours, decision{reason: contract.ReasonReactivated}},
		{"listed, nothing active", []Certificate{listed(false)}, ours, decision{reason: contract.ReasonReactivated}},
		{"a later certificate is active", []Certificate{listed(false), newer}, ours, decision{skip: contract.ReasonNotNewer}},
		{"staged and merely listed", []Certificate{{Thumbprint: "AA", NotBefore: now.Add(day), NotAfter: now.Add(90 * day)}, older},
			candidate{Thumbprint: "AA", NotBefore: now.Add(day), NotAfter: now.Add(90 * day)}, decision{skip: contract.ReasonAlreadyPresent}},
	} {
		if got := decide(ConnectorState{Certificates: tt.certs}, tt.c, job, false, now); got != tt.want {
			t.Errorf("%s: decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestRolledBackConnectorIsRepaired: a connector whose older certificate
// was uploaded after ours (so it is active) gets ours back, reactivated.
func TestRolledBackConnectorIsRepaired(t *testing.T) {
	t.Parallel()
	b := validBundle(t)
	g := newGraph()
	ours := Certificate{Thumbprint: b.Thumbprint, NotBefore: b.NotBefore, NotAfter: b.NotAfter}
	g.seed(conn1, ours, cert("older", testNow.Add(-30*day), testNow.Add(30*day)))
	r := newTestRotator(t, sourceOf(materialOf(b, 1)), g.connector(), nil)
	out := r.Rotate(context.Background(), testJob(1), Request{ID: "r1", Attempt: 1})
	if out[0].Status != contract.StatusSucceeded || out[0].Reason != contract.ReasonReactivated {
		t.Fatalf("outcome = %s %s %+v", out[0].Status, out[0].Reason, out[0].Error)
	}
	if a, ok := g.state(conn1).Active(); !ok || a.Thumbprint != b.Thumbprint {
		t.Fatalf("active after repair = %+v", a)
	}
	// Converged: the next run skips.
	if out := r.Rotate(context.Background(), testJob(1), Request{ID: "r2", Attempt: 1}); out[0].Reason != contract.ReasonAlreadyPresent {
		t.Fatalf("second run = %s %s", out[0].Status, out[0].Reason)
	}
}

// staleLease is a lock that can no longer be known to be held.
type staleLease struct{}

func (staleLease) Until() (time.Time, error) {
	return time.Time{}, errors.New("last confirmed 20s ago")
}

// TestNoUploadWithoutLease: with a stale lease in the context the upload is
// never made and the outcome is a transient lease_lost.
func TestNoUploadWithoutLease(t *testing.T) {
	t.Parallel()
	g := newGraph()
	g.seed(conn1, cert("old", testNow.Add(-30*day), testNow.Add(10*day)))
	r := newTestRotator(t, sourceOf(materialOf(validBundle(t), 1)), g.connector(), nil)
	out := r.Rotate(WithLease(context.Background(), staleLease{}), testJob(1), Request{ID: "r1", Attempt: 1})
	if len(out) == 0 || out[0].Status != contract.StatusFailed || out[0].Error == nil || out[0].Error.Code != CodeLeaseLost || out[0].Error.Class != ClassTransient {
		t.Fatalf("outcome = %+v", out)
	}
	if _, uploads := g.counts(conn1); uploads != 0 {
		t.Fatalf("%d uploads with a stale lease", uploads)
	}
}
