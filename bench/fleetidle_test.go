package bench

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// idleJobs is the idle worker's size: issue 20's 100 jobs, one connector
// each, over 50 tenants.
var idleFleet = fleetSize{Connectors: 100, Tenants: 50}

// runIdle measures one replica with nothing due: 100 jobs on a daily
// schedule that does not come up during the run, no request published.
// It reads the replica's RSS once it is ready and again after idle, and
// its CPU over that time.
func runIdle(t *testing.T, bin binaries, v *vaulttest.Server, s fleetSpec, idle time.Duration) Result {
	s.fleetSize = idleFleet
	f := s.layout()
	s.Limits = procLimits
	g := startGraphProc(t, bin, s, f)
	ns := testkit.NATS(t, "")
	w := startWorkerProc(t, bin, workerConfig{
		Instance: "bench-idle", NATSURL: ns.ClientURL(), VaultAddr: v.Addr, VaultToken: v.Token,
		GraphURL: g.url, CAFile: g.caFile, TenantIDs: f.tenantIDs, Jobs: f.jobs,
		AppPerMinute: s.Limits.AppPerWindow, TenantPerMinute: s.Limits.TenantPerWindow,
		Schedule: "@every 24h", // due a day after start: never during the run
	})
	start := readProc(t, w.pid())
	// The measurement is the interval itself, not a wait for an event.
	timer := time.NewTimer(idle)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-w.done:
		t.Fatalf("the idle worker exited: %s", w.tail())
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	end := readProc(t, w.pid())
	cpu := round((end.cpu - start.cpu).Seconds())
	return Result{
		Mode: "idle", Connectors: len(f.jobs), Tenants: s.Tenants, Replicas: 1, Jobs: len(f.jobs),
		IdleS: idle.Seconds(), RSSStartMB: start.rssMB, RSSEndMB: end.rssMB,
		PeakRSSMB: end.hwmMB, CPUS: cpu, WorkerRSSMB: []float64{end.hwmMB}, WorkerRSSMBSum: end.hwmMB,
		WorkerCPUS: []float64{cpu}, WorkerCPUSSum: cpu,
	}
}
