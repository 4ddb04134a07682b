package bench

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// runBaseline measures the way teams rotate today: a script that takes one
// connector at a time and, for each, reads its bundle from Vault, decodes
// it, re-encodes it in the form B2C accepts, GETs the connector and
// uploads. One call at a time stays far under Graph's limits, so it runs
// unpaced. Fleets over sample connectors run their first sample
// connectors (spread over every tenant by the layout) and scale makespan,
// Vault reads and CPU to the fleet: they grow linearly in a sequential
// run, and the full run of 10,000 would take half an hour.
func runBaseline(t *testing.T, v *vaulttest.Server, s fleetSpec, sample int) Result {
	f := s.layout()
	sim := newGraph(t, s, f)
	var reads atomic.Int64
	src := newSource(t, v, &reads)
	conn := newGraphClient(t, s, f, sim, connector.Unpaced)
	type step struct {
		job jobs.Job
		ref jobs.ConnectorRef
	}
	var steps []step
	for _, j := range f.jobs {
		for _, c := range j.Connectors {
			steps = append(steps, step{j, c})
		}
	}
	// Deal the sample over the jobs (and so the tenants) round-robin.
	ran := min(sample, len(steps))
	order := make([]step, 0, ran)
	for i := 0; len(order) < ran; i++ {
		for _, j := range f.jobs {
			if i < len(j.Connectors) && len(order) < ran {
				order = append(order, step{j, j.Connectors[i]})
			}
		}
	}

	resetPeakRSS()
	u0 := readUsage(t)
	peaks := startSampler("")
	start := time.Now()
	uploads := 0
	for _, st := range order {
		if err := rotateOneByHand(t, src, conn, st.job, st.ref); err != nil {
			t.Fatalf("baseline, %s/%s: %v", st.job.Name, st.ref.ID, err)
		}
		uploads++
	}
	makespan := time.Since(start)
	u1 := readUsage(t)
	rss := peakRSSMB(t)

	counts := sim.AllCounts()
	calls, throttled := graphTotals(counts)
	scale := float64(len(steps)) / float64(ran)
	res := Result{
		Mode: "baseline", Connectors: s.Connectors, Tenants: s.Tenants, Replicas: 1,
		MakespanS: round(makespan.Seconds() * scale), Uploads: uploads,
		GraphCallsPerUpload: round(float64(calls) / float64(uploads)),
		VaultReads:          int64(float64(reads.Load()) * scale), HTTP429: throttled,
		PeakRSSMB: rss, CPUS: round((u1.cpu - u0.cpu).Seconds() * scale), LatencyMS: s.Latency.Milliseconds(),
	}
	peaks.end(&res)
	if ran < len(steps) {
		res.SampledConnectors = ran
		// The ideal of the whole fleet: each of a tenant's connectors costs
		// the calls a sampled connector cost on average.
		perConnector := float64(calls-throttled) / float64(ran)
		whole := map[string]int{}
		for _, st := range steps {
			whole[f.tenantIDOf(st.ref.Tenant)]++
		}
		counts = map[string]graphsim.Counts{}
		for id, n := range whole {
			counts[id] = graphsim.Counts{Calls: int(math.Round(perConnector * float64(n)))}
		}
		res.HTTP429 = int(float64(throttled) * scale)
		res.Uploads = len(steps)
	}
	res.IdealS = round(idealSeconds(counts, s.Limits, s.Latency))
	res.Efficiency = round(res.IdealS / res.MakespanS)
	return res
}

// rotateOneByHand is the script's loop body: Vault read, decode, re-encode,
// GET, upload.
func rotateOneByHand(t *testing.T, src jobs.Source, conn *connector.Client, job jobs.Job, ref jobs.ConnectorRef) error {
	ctx := t.Context()
	m, err := src.Fetch(ctx, job.Source)
	if err != nil {
		return err
	}
	b, err := bundle.DecodeContext(ctx, m.PFX, m.Password)
	if err != nil {
		return err
	}
	pfx, err := b.Encode(m.Password)
	if err != nil {
		return err
	}
	if _, err := conn.Get(ctx, ref.Tenant, ref.ID); err != nil {
		return err
	}
	_, err = conn.Upload(ctx, ref.Tenant, ref.ID, pfx, m.Password)
	return err
}
