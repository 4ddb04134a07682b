package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

const keySetID = "B2C_1A_RestApiClientCertificate"

func keySetJob() jobs.Job {
	j := workertest.Job()
	j.KeySets = []jobs.KeySetRef{{Tenant: "contoso", ID: keySetID}, {Tenant: "contoso", ID: "B2C_1A_Other"}}
	return j
}

// TestStatusPageKeySetRows: a job's key set gets a configured row of its
// own, filled from its status key, and never mixes with a connector's.
func TestStatusPageKeySetRows(t *testing.T) {
	t.Parallel()
	j := keySetJob()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src := newMemSource()
	src.record(now, jobs.Outcome{Job: workertest.JobName, Tenant: "contoso", Connector: keySetID, TargetKind: jobs.KindKeySet,
		Status: contract.StatusSkipped, Reason: jobs.ReasonSuperseded, Final: true})
	entries, _ := src.Snapshot()
	p := newTestPage(src, j).buildStatusPage(entries, now)
	if len(p.Rows) != len(j.Connectors)+2 {
		t.Fatalf("rows %+v, want one per connector and key set", p.Rows)
	}
	ks := p.Rows[len(j.Connectors)]
	if ks.Connector != keySetID || !ks.Configured || ks.Outcome != contract.StatusSkipped || ks.SkipReason != jobs.ReasonSuperseded ||
		ks.Key != contract.KeySetStatusKey(workertest.JobName, keySetID) || ks.Target != "keyset-"+keySetID {
		t.Errorf("key set row %+v", ks)
	}
	if other := p.Rows[len(j.Connectors)+1]; other.Connector != "B2C_1A_Other" || !other.Configured || other.Outcome != "" ||
		other.Key != contract.KeySetStatusKey(workertest.JobName, "B2C_1A_Other") {
		t.Errorf("key set without status %+v", other)
	}
}

// TestKeySetRowLive: a key set's row is keyed by its status key
// (<job>.keyset-<id>) on the page and in the live feed, so that a change
// of the key set reaches an open page as that row's event, whose id is
// the row the page shows, and never as a connector's row, even one of the
// same id; its history link reads the key set's results.
func TestKeySetRowLive(t *testing.T) {
	t.Parallel()
	j := keySetJob()
	j.Connectors = append(j.Connectors, jobs.ConnectorRef{Tenant: "contoso", ID: keySetID}) // a connector of the same id
	src, ctx, events := openLive(t, j)
	first := <-events
	wantID := `id="row-` + workertest.JobName + `.keyset-` + keySetID + `"`
	if first.name != "status" || strings.Count(first.data, wantID) != 1 ||
		strings.Count(first.data, `id="row-`+workertest.JobName+`.`+keySetID+`"`) != 1 {
		t.Fatalf("first event %s lacks the key set's row or the connector's:\n%s", first.name, first.data)
	}
	src.record(time.Now(), jobs.Outcome{Job: workertest.JobName, Tenant: "contoso", Connector: keySetID, TargetKind: jobs.KindKeySet,
		Status: contract.StatusSucceeded, Final: true, Certificate: &jobs.CertInfo{Thumbprint: workertest.Thumbprint, NotAfter: time.Now().Add(100 * 24 * time.Hour)}})
	row := nextRow(t, ctx, events)
	if !strings.Contains(row, wantID) || !strings.Contains(row, `data-outcome="succeeded"`) || !strings.Contains(row, workertest.Thumbprint) ||
		!strings.Contains(row, "connector=keyset-"+keySetID+`"`) {
		t.Fatalf("row event is not the key set's succeeded row:\n%s", row)
	}
}
