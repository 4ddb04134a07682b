package jobs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/contract"
)

// TestIssueSettlesLostAnswer: a write applied whose answer is lost (a
// reset, a proxy's 502), or refused as a conflict with the run's own
// version (a client's retry of it), is settled by reading version cas+1
// back: the run's certificate is rolled out and nothing is revoked.
func TestIssueSettlesLostAnswer(t *testing.T) {
	t.Parallel()
	for name, lost := range map[string]error{
		"unclear":  Transient("source_unavailable", fmt.Errorf("vault answered 502: %w", ErrWriteUnclear)),
		"conflict": Transient("source_conflict", fmt.Errorf("cas 0, current 1: %w", ErrWriteConflict)),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			job := pkiJob()
			r, kv, ca, g, logs := issueSetup(t, job)
			kv.answerLost = lost
			out := r.Rotate(t.Context(), job, Request{Job: job.Name})
			if issued, revoked := ca.counts(); issued != 1 || revoked != 0 {
				t.Fatalf("issued %d, revoked %d; want the one serial kept", issued, revoked)
			}
			if len(kv.versions) != 1 || kv.versions[0].Serial != ca.issued[0].Serial {
				t.Fatalf("versions %d, want the run's own as version 1", len(kv.versions))
			}
			if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].Certificate.SourceVersion != 1 {
				t.Errorf("outcomes %+v, want version 1 uploaded", out)
			}
			if _, uploads := g.counts(conn1); uploads != 1 {
				t.Errorf("%d uploads, want 1", uploads)
			}
			if !strings.Contains(logs.String(), "confirmed by reading it back") {
				t.Errorf("logs do not say the write was confirmed:\n%s", logs)
			}
		})
	}
}

// TestIssueResendsUnappliedWrite: an answer lost before Vault applied the
// write leaves no version cas+1; the same check-and-set is sent once more
// (it can never make a second version) and nothing is revoked.
func TestIssueResendsUnappliedWrite(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, _, _ := issueSetup(t, job)
	kv.answerLost, kv.notApplied = Transient("source_unavailable", fmt.Errorf("reset: %w", ErrWriteUnclear)), true
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if _, revoked := ca.counts(); revoked != 0 || len(kv.versions) != 1 || len(kv.casSeen) != 2 || kv.casSeen[1] != 0 {
		t.Fatalf("revoked %d, versions %d, cas sent %v; want nothing revoked, one version, cas 0 twice", revoked, len(kv.versions), kv.casSeen)
	}
	if out[0].Status != contract.StatusSucceeded {
		t.Errorf("outcome %+v, want succeeded", out[0])
	}
}

// TestIssueUnsettledKeepsSerial: when the path cannot be read back, nothing
// proves the run lost: the serial is kept and the run fails transient.
func TestIssueUnsettledKeepsSerial(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, _, _ := issueSetup(t, job)
	kv.answerLost = Transient("source_unavailable", fmt.Errorf("reset: %w", ErrWriteUnclear))
	kv.versionsErr = Transient("source_unavailable", errors.New("vault unreachable"))
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if _, revoked := ca.counts(); revoked != 0 {
		t.Fatalf("revoked %d, want the serial kept (it is in KV)", revoked)
	}
	if out[0].Status != contract.StatusFailed || out[0].Error.Code != CodeWriteUnsettled || out[0].Error.Class != ClassTransient {
		t.Errorf("outcome %+v, want failed transient %s", out[0], CodeWriteUnsettled)
	}
}

// TestIssueRefusedWriteRevokes: a write Vault refused (a 403) stored
// nothing: reading back proves it, and the serial is revoked.
func TestIssueRefusedWriteRevokes(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, _, _ := issueSetup(t, job)
	kv.answerLost, kv.notApplied = Permanent("source_denied", errors.New("vault answered 403: permission denied")), true
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if _, revoked := ca.counts(); revoked != 1 || len(kv.casSeen) != 1 {
		t.Fatalf("revoked %d, writes %d; want the serial revoked and no second write", revoked, len(kv.casSeen))
	}
	if out[0].Status != contract.StatusFailed || out[0].Error.Code != "source_denied" {
		t.Errorf("outcome %+v, want the refusal", out[0])
	}
}
