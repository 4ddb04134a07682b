package statuspage

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// BenchmarkStatusSection renders the live section for 10 jobs of 10
// connectors each: the work done per connected page on every bucket change.
func BenchmarkStatusSection(b *testing.B) {
	var jj []jobs.Job
	src := newMemSource()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		j := workertest.Job()
		j.Name = "job-" + strconv.Itoa(i)
		j.Connectors = nil
		for c := range 10 {
			j.Connectors = append(j.Connectors, jobs.ConnectorRef{Tenant: "contoso", ID: "conn-" + strconv.Itoa(c)})
		}
		src.record(now, succeeded(j, "r")...)
		jj = append(jj, j)
	}
	p := newTestPage(src, jj...)
	entries, _ := src.Snapshot()
	b.ReportAllocs()
	for b.Loop() {
		if err := pageTemplates.ExecuteTemplate(io.Discard, "status", p.buildStatusPage(entries, now)); err != nil {
			b.Fatal(err)
		}
	}
}
