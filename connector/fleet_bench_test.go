package connector

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// BenchmarkFleetPaced runs GETs for several tenants at once against the
// emulator with Graph's limits on a compressed clock (200 per app and 300
// per tenant per 6s) and 80 ms of latency, and reports how close the Pacer
// comes to the limit: efficiency = ideal / makespan, where ideal is a
// tenant's calls at Graph's rate, and the 429s the emulator answered (the
// target is none). Run it with -benchtime 1x: one op takes seconds.
func BenchmarkFleetPaced(b *testing.B) {
	const (
		tenants = 10
		calls   = 150 // per tenant
		workers = 8   // per tenant: rate × latency is 2.5 in flight
	)
	limits := graphsim.Limits{AppPerWindow: 200, TenantPerWindow: 300, Window: 6 * time.Second}
	for _, margin := range []float64{0.9, 0.95} {
		b.Run(fmt.Sprintf("margin=%.2f", margin), func(b *testing.B) {
			sim, c, keys := fleetBenchRig(b, tenants, limits, margin)
			var worst time.Duration
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for _, key := range keys {
					for w := range workers {
						wg.Go(func() {
							for i := w; i < calls; i += workers {
								if _, err := c.Get(b.Context(), key, fleetIDs(1, 1)[0]); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
				}
				wg.Wait()
				worst = max(worst, time.Since(start))
			}
			ideal := time.Duration(float64(calls) / float64(limits.AppPerWindow) * float64(limits.Window))
			var throttled int
			for _, n := range sim.AllCounts() {
				throttled += n.Throttled
			}
			b.ReportMetric(float64(ideal)/float64(worst), "efficiency")
			b.ReportMetric(worst.Seconds(), "makespan_s")
			b.ReportMetric(float64(throttled), "http_429")
		})
	}
}

// fleetBenchRig is an emulator with n tenants of one connector each and a
// client paced at margin on the limits' window.
func fleetBenchRig(b *testing.B, n int, limits graphsim.Limits, margin float64) (*graphsim.Server, *Client, []string) {
	b.Helper()
	sim := graphsim.NewTest(b)
	tenants := map[string]Tenant{}
	var keys []string
	for i := range n {
		id := fmt.Sprintf("8a1c2b3d-0000-4000-8000-%012d", i+1)
		sim.AddTenant(id, testClientID, testSecret).AddConnector(id, fleetIDs(1, 1)[0], "bench")
		key := fmt.Sprintf("t%d", i)
		keys = append(keys, key)
		tenants[key] = Tenant{TenantID: id, ClientID: testClientID, ClientSecret: testSecret,
			RateLimit: RateLimit{AppPerMinute: limits.AppPerWindow, TenantPerMinute: limits.TenantPerWindow}}
	}
	sim.Start()
	sim.SetRecording(false)
	sim.SetLimits(limits)
	sim.SetLatency(80 * time.Millisecond)
	transport := sim.Client().Transport.(*http.Transport)
	transport.MaxIdleConnsPerHost = 256 // HTTP/1.1 to the emulator: one connection per call in flight
	b.Cleanup(transport.CloseIdleConnections)
	for k, t := range tenants {
		t.AuthorityURL, t.GraphURL = sim.URL(), sim.URL()
		tenants[k] = t
	}
	c, err := New(Config{Tenants: tenants, Transport: transport, RateWindow: limits.Window,
		Budget: NewPacer(PacerConfig{Margin: margin})})
	if err != nil {
		b.Fatal(err)
	}
	return sim, c, keys
}
