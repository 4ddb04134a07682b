package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// The harness's own arithmetic is checked here, in `make test`, since its
// figures are only as good as it is.

func TestIdealSeconds(t *testing.T) {
	limits := graphsim.Limits{AppPerWindow: 200, TenantPerWindow: 300, Window: 6 * time.Second}
	cases := []struct {
		name   string
		counts map[string]graphsim.Counts
		want   float64
	}{
		// 100 admitted calls at 200 per 6 s: 3 s, whatever other tenants did.
		{"slowest tenant", map[string]graphsim.Counts{"a": {Calls: 100}, "b": {Calls: 20}}, 3},
		// 429s did not count against Graph's window.
		{"throttled excluded", map[string]graphsim.Counts{"a": {Calls: 110, Throttled: 10}}, 3},
		// 2 calls take 0.06 s of budget but two latencies of 80 ms.
		{"latency bound", map[string]graphsim.Counts{"a": {Calls: 2}}, 0.16},
	}
	for _, c := range cases {
		if got := round(idealSeconds(c.counts, limits, 80*time.Millisecond)); got != c.want {
			t.Errorf("%s: ideal %v s, want %v s", c.name, got, c.want)
		}
	}
	tenantBound := graphsim.Limits{AppPerWindow: 200, TenantPerWindow: 100, Window: 6 * time.Second}
	if got := idealSeconds(map[string]graphsim.Counts{"a": {Calls: 100}}, tenantBound, 0); got != 6 {
		t.Errorf("a tenant limit under the app's: ideal %v s, want 6 s", got)
	}
}

func TestLayout(t *testing.T) {
	bundles := []jobs.SourceRef{{Path: "b0"}, {Path: "b1"}, {Path: "b2"}, {Path: "b3"}}
	s := fleetSpec{fleetSize: fleetSize{Connectors: 1000, Tenants: 100}, Bundles: bundles}
	f := s.layout()
	if len(f.jobs) != 100*jobsPerTenant {
		t.Fatalf("%d jobs, want %d", len(f.jobs), 100*jobsPerTenant)
	}
	seen := map[string]bool{}
	perTenant := map[string]int{}
	paths := map[string]int{}
	for _, j := range f.jobs {
		paths[j.Source.Path]++
		for _, c := range j.Connectors {
			if c.Tenant != j.Connectors[0].Tenant {
				t.Errorf("job %s spans tenants %s and %s", j.Name, j.Connectors[0].Tenant, c.Tenant)
			}
			if seen[c.ID] {
				t.Errorf("connector %s bound twice", c.ID)
			}
			seen[c.ID] = true
			perTenant[c.Tenant]++
		}
	}
	if len(seen) != 1000 {
		t.Errorf("%d connectors bound, want 1000", len(seen))
	}
	for key, n := range perTenant {
		if n != 10 {
			t.Errorf("tenant %s has %d connectors, want 10", key, n)
		}
	}
	if len(paths) != len(bundles) {
		t.Errorf("jobs read %d bundles, want all %d shared: %v", len(paths), len(bundles), paths)
	}
	hot := fleetSpec{fleetSize: fleetSize{Connectors: 1000, Tenants: 1}, Bundles: bundles}.layout()
	if len(hot.jobs) != 1000/jobSizeMax {
		t.Errorf("one tenant of 1000: %d jobs, want %d of %d", len(hot.jobs), 1000/jobSizeMax, jobSizeMax)
	}
}

func TestTrackerFinishesOnEveryConnectorOnce(t *testing.T) {
	f := fleet{jobs: []jobs.Job{
		{Name: "a", Connectors: []jobs.ConnectorRef{{ID: "1"}, {ID: "2"}}},
		{Name: "b", Connectors: []jobs.ConnectorRef{{ID: "3"}, {ID: "4"}}},
	}}
	tr := newTracker(f)
	send := func(o jobs.Outcome) {
		data, err := json.Marshal(contract.NewEvent("t", o, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		tr.onEvent(&nats.Msg{Data: data})
	}
	send(jobs.Outcome{Job: "a", Connector: "1", Status: contract.StatusSucceeded, Final: true})
	send(jobs.Outcome{Job: "a", Connector: "1", Status: contract.StatusSucceeded, Final: true}) // redelivered
	send(jobs.Outcome{Job: "a", Connector: "2", Status: contract.StatusFailed, Final: false})   // will be retried
	send(jobs.Outcome{Job: "a", Connector: "2", Status: contract.StatusSucceeded, Final: true})
	select {
	case <-tr.done:
		t.Fatal("done before job b")
	default:
	}
	send(jobs.Outcome{Job: "b", Status: contract.StatusFailed, Final: true, Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest}})
	select {
	case <-tr.done:
	default:
		t.Fatal("not done after a request-level failure of the last job")
	}
	if tr.uploads != 2 || tr.failed != 2 {
		t.Errorf("uploads %d failed %d, want 2 and 2", tr.uploads, tr.failed)
	}
}
