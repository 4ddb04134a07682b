package main

import (
	"strings"
	"testing"
	"time"

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
