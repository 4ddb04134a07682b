package worker

import (
	"context"
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
	p := w.buildStatusPage([]*statusEntry{{Key: key, Record: briefOf(contract.NextStatus(nil, o, now)), Updated: now}}, now)
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

// TestKeySetSeriesExported: a key set's status exports the expiry series
// under its id, as a connector's does.
func TestKeySetSeriesExported(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	j := testJob()
	j.KeySets = []jobs.KeySetRef{{Tenant: "contoso", ID: "B2C_1A_RestApiClientCertificate"}}
	rot := newFake(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		out := succeed(job, req)
		ks := out[0]
		ks.Connector, ks.TargetKind = "B2C_1A_RestApiClientCertificate", jobs.KindKeySet
		return append(out, ks)
	})
	w := startWorker(t, connect(t, s), testApp(j), rot)
	publish(t, newJS(t, connect(t, s)), "certrotation.request."+jobName, `{"job":"contoso-api"}`, "ks-metrics-1")
	key := contract.KeySetStatusKey(jobName, "B2C_1A_RestApiClientCertificate")
	viewHas(t, w, "key set stored", func(m map[string]statusEntry) bool {
		return m[key].Record.Status == jobs.StatusSucceeded && m[contract.StatusKey(jobName, conn2)].Record.Status == jobs.StatusSucceeded
	})
	expiry := float64(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	if got := testutilCount(t, w, "certrotator_certificate_expiry_timestamp_seconds"); got != 3*expiry {
		t.Errorf("expiry gauges sum to %v, want 3 × %v (two connectors and the key set)", got, expiry)
	}
}
