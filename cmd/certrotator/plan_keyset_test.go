package main

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// TestPrintPlanNamesKeySets: a key set's row says it is a key set.
func TestPrintPlanNamesKeySets(t *testing.T) {
	var b strings.Builder
	printPlan(&b, []jobs.Decision{
		{Job: "api", Connector: "7b3a0c1e-aaaa-bbbb-cccc-000000000001", Action: jobs.ActionUpload},
		{Job: "api", Connector: "B2C_1A_RestApiClientCertificate", TargetKind: jobs.KindKeySet, Action: jobs.ActionSkip, Reason: jobs.ReasonSuperseded},
	}, time.Now())
	if !strings.Contains(b.String(), "keyset B2C_1A_RestApiClientCertificate") {
		t.Errorf("plan table does not name the key set by kind:\n%s", b.String())
	}
}

// TestOutcomeTextNamesKeySets: a key set's outcome line names it by kind,
// and a superseded skip names the key that is active.
func TestOutcomeTextNamesKeySets(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := jobs.Outcome{Job: "api", Connector: "B2C_1A_RestApiClientCertificate", TargetKind: jobs.KindKeySet,
		Status: contract.StatusSkipped, Reason: jobs.ReasonSuperseded,
		Previous: &jobs.CertInfo{Thumbprint: strings.Repeat("AB", 20), Kid: "by-hand", NotAfter: now.Add(40 * 24 * time.Hour)}}
	if got := where(o); got != "api/keyset-B2C_1A_RestApiClientCertificate" {
		t.Errorf("where = %q", got)
	}
	if got := detail(o, now); !strings.Contains(got, "superseded") || !strings.Contains(got, "kid by-hand") || !strings.Contains(got, "40 days left") {
		t.Errorf("detail = %q", got)
	}
}
