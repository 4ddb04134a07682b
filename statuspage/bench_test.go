package worker

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// BenchmarkStatusSection renders the live section for 10 jobs of 10
// connectors each: the work done per connected page on every bucket change.
func BenchmarkStatusSection(b *testing.B) {
	var jj []jobs.Job
	var entries []*statusEntry
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		j := testJob()
		j.Name = "job-" + strconv.Itoa(i)
		j.Connectors = nil
		for c := range 10 {
			id := "conn-" + strconv.Itoa(c)
			j.Connectors = append(j.Connectors, jobs.ConnectorRef{Tenant: "contoso", ID: id})
			o := succeed(j, jobs.Request{ID: "r"})[0]
			o.Connector = id
			entries = append(entries, &statusEntry{Key: contract.StatusKey(j.Name, id), Updated: now,
				Record: briefOf(contract.NextStatus(nil, o, now))})
		}
		jj = append(jj, j)
	}
	w, err := New(configFor(b, testApp(jj...), newFake(nil), nil))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := pageTemplates.ExecuteTemplate(io.Discard, "status", w.buildStatusPage(entries, now)); err != nil {
			b.Fatal(err)
		}
	}
}
