package bench

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// runFleetProc is runFleet with every replica, and graphsim, in a process
// of its own (see fleetproc_test.go): the same fleet, tick and tracker,
// and per-process figures from /proc.
func runFleetProc(t *testing.T, bin binaries, v *vaulttest.Server, s fleetSpec, replicas int) Result {
	f := s.layout()
	s.Limits = procLimits
	g := startGraphProc(t, bin, s, f)
	ns := testkit.NATS(t, "")
	workers := make([]*workerProc, replicas)
	for r := range replicas {
		workers[r] = startWorkerProc(t, bin, workerConfig{
			Instance: fmt.Sprintf("bench-%d", r+1), NATSURL: ns.ClientURL(), VaultAddr: v.Addr, VaultToken: v.Token,
			GraphURL: g.url, CAFile: g.caFile, TenantIDs: f.tenantIDs, Jobs: f.jobs,
			AppPerMinute: s.Limits.AppPerWindow, TenantPerMinute: s.Limits.TenantPerWindow,
		})
	}
	tr := newTracker(f)
	js := tr.watch(t, ns)

	before := make([]procStat, replicas)
	var vault0 int64
	for r, w := range workers {
		before[r] = readProc(t, w.pid())
		vault0 += w.vaultRequests(t)
	}
	g0 := readProc(t, g.pid())
	resetPeakRSS()
	u0 := readUsage(t)
	peaks := startSampler("")
	// BENCH_WORKER_PROFILE=PREFIX: a CPU profile of each replica over the
	// first BENCH_WORKER_CPU_SECONDS (30) of the run, and its heap at the end.
	prefix := os.Getenv("BENCH_WORKER_PROFILE")
	var profiling sync.WaitGroup
	if prefix != "" {
		secs := envInt(t, "BENCH_WORKER_CPU_SECONDS", 30)
		for r, w := range workers {
			profiling.Go(func() {
				w.profile(t, fmt.Sprintf("profile?seconds=%d", secs), fmt.Sprintf("%s.%d-%d-%d.cpu", prefix, s.Connectors, replicas, r+1))
			})
		}
	}
	tr.publishTick(t, js, f)
	tr.wait(t)
	u1 := readUsage(t)
	res := Result{Mode: "worker", Connectors: s.Connectors, Tenants: s.Tenants, Replicas: replicas, LatencyMS: s.Latency.Milliseconds()}
	var vault1 int64
	for r, w := range workers {
		after := readProc(t, w.pid())
		vault1 += w.vaultRequests(t)
		cpu := round((after.cpu - before[r].cpu).Seconds())
		res.WorkerRSSMB = append(res.WorkerRSSMB, after.hwmMB)
		res.WorkerCPUS = append(res.WorkerCPUS, cpu)
		res.WorkerRSSMBSum = round(res.WorkerRSSMBSum + after.hwmMB)
		res.WorkerCPUSSum = round(res.WorkerCPUSSum + cpu)
	}
	g1 := readProc(t, g.pid())
	// After the figures: profiling costs CPU of its own.
	if prefix != "" {
		for r, w := range workers {
			w.profile(t, "heap", fmt.Sprintf("%s.%d-%d-%d.heap", prefix, s.Connectors, replicas, r+1))
		}
		profiling.Wait()
	}
	res.GraphsimCPUS, res.GraphsimRSSMB = round((g1.cpu - g0.cpu).Seconds()), g1.hwmMB
	res.HarnessCPUS = round((u1.cpu - u0.cpu).Seconds())
	res.PeakRSSMB, res.CPUS = res.WorkerRSSMBSum, res.WorkerCPUSSum
	res.VaultReads = vault1 - vault0
	peaks.end(&res)

	rep := g.counts(t)
	counts := rep.Tenants
	res.PFXDecodes, res.GraphConnections = rep.PFXDecodes, rep.Connections
	calls, throttled := graphTotals(counts)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	res.MakespanS = round(tr.last.Sub(tr.start).Seconds())
	res.IdealS = round(idealSeconds(counts, s.Limits, s.Latency))
	res.Uploads, res.Skipped, res.Failed, res.HTTP429 = tr.uploads, tr.skipped, tr.failed, throttled
	if res.MakespanS > 0 {
		res.Efficiency = round(res.IdealS / res.MakespanS)
	}
	if tr.uploads > 0 {
		res.GraphCallsPerUpload = round(float64(calls) / float64(tr.uploads))
	}
	if tr.failed > 0 {
		t.Errorf("%d connectors failed; first: %s; the first replica's log ends: %s", tr.failed, tr.firstFailure, workers[0].tail())
	}
	return res
}

// inProcess reports whether BENCH_INPROCESS asks for the former mode:
// replicas and graphsim in the test process, figures of the whole process.
func inProcess() bool { return os.Getenv("BENCH_INPROCESS") != "" }
