package worker

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// TestStatusPageKeySetRows: a job's key set gets a configured row of its
// own, filled from its status key, and never mixes with a connector's.
func TestStatusPageKeySetRows(t *testing.T) {
	t.Parallel()
	j := testJob()
	j.KeySets = []jobs.KeySetRef{{Tenant: "contoso", ID: "B2C_1A_RestApiClientCertificate"}, {Tenant: "contoso", ID: "B2C_1A_Other"}}
	w, err := New(configFor(t, testApp(j), newFake(nil), nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := jobs.Outcome{Job: jobName, Tenant: "contoso", Connector: "B2C_1A_RestApiClientCertificate", TargetKind: jobs.KindKeySet,
		Status: jobs.StatusSkipped, Reason: jobs.ReasonSuperseded, Final: true}
	key := contract.StatusKeyOf(o)
	p := w.buildStatusPage([]statusEntry{{Key: key, Record: contract.NextStatus(nil, o, now), Updated: now, raw: []byte(`{}`)}}, now)
	if len(p.Rows) != len(j.Connectors)+2 {
		t.Fatalf("rows %+v, want one per connector and key set", p.Rows)
	}
	ks := p.Rows[len(j.Connectors)]
	if ks.Connector != "B2C_1A_RestApiClientCertificate" || !ks.Configured || ks.Outcome != jobs.StatusSkipped || ks.SkipReason != jobs.ReasonSuperseded {
		t.Errorf("key set row %+v", ks)
	}
	if other := p.Rows[len(j.Connectors)+1]; other.Connector != "B2C_1A_Other" || !other.Configured || other.Outcome != "" {
		t.Errorf("key set without status %+v", other)
	}
}
