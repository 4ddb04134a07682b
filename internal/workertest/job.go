package workertest

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// The test job of the worker's and the status page's tests: one bundle
// rolled out to two connectors of one tenant.
const (
	JobName = "contoso-api"
	Conn1   = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	Conn2   = "7b3a0c1e-aaaa-bbbb-cccc-000000000002"
)

// Job is the test job: on-change, three attempts, re-encoded, its two
// connectors in tenant contoso, and no schedule.
func Job() jobs.Job {
	return jobs.Job{
		Name:        JobName,
		Source:      jobs.SourceRef{Mount: "secret", Path: "b2c/contoso-api", PFXField: "pfx", PasswordField: "password"},
		Policy:      jobs.PolicyOnChange,
		MaxAttempts: 3,
		Reencode:    true,
		Connectors:  []jobs.ConnectorRef{{Tenant: "contoso", ID: Conn1}, {Tenant: "contoso", ID: Conn2}},
	}
}

// RequestBody is the body of a request of Job for the connectors (every
// one when none).
func RequestBody(connectors ...string) string {
	if len(connectors) == 0 {
		return `{"job":"` + JobName + `"}`
	}
	return `{"job":"` + JobName + `","connectors":["` + strings.Join(connectors, `","`) + `"]}`
}

// Schedule is spec parsed as config.Load parses a job's schedule.
func Schedule(tb testing.TB, spec string) cron.Schedule {
	tb.Helper()
	s, err := config.ParseSchedule(spec)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// WindowJob is Job with one change window a day, 08:00-09:00 UTC.
func WindowJob(tb testing.TB) jobs.Job {
	tb.Helper()
	const spec = "CRON_TZ=UTC 0 8 * * *"
	j := Job()
	j.Windows = []jobs.Window{{Spec: spec, Start: Schedule(tb, spec), Duration: time.Hour}}
	return j
}

// BadRequestApart checks a status page that holds Job's connectors, both
// succeeded, and one request that failed before any connector (bad
// request, key <job>._): that request is listed in a section apart and
// leaves the connector rows as they were.
func BadRequestApart(tb testing.TB, page string) {
	tb.Helper()
	apart := strings.Index(page, "Requests that failed before any connector")
	if apart < 0 {
		tb.Fatalf("no section for the bad request:\n%s", page)
	}
	rows, section := page[:apart], page[apart:]
	if !strings.Contains(section, `data-key="`+JobName+`._"`) || !strings.Contains(section, contract.CodeBadRequest) {
		tb.Errorf("bad request not in its section:\n%s", section)
	}
	if strings.Contains(rows, `data-outcome="failed"`) || strings.Count(rows, `data-outcome="succeeded"`) != 2 {
		tb.Errorf("connector rows changed by the bad request:\n%s", rows)
	}
}
