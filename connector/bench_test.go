package connector

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// benchClient is a client for one tenant of n connectors, unpaced unless
// budget says otherwise.
func benchClient(b *testing.B, n int, budget Budget) (*graphsim.Server, *Client) {
	b.Helper()
	sim := graphsim.NewTest(b).AddTenant(testTenantID, testClientID, testSecret)
	for _, id := range fleetIDs(1, n) {
		sim.AddConnector(testTenantID, id, "bench", seedCert)
	}
	sim.Start()
	sim.SetRecording(false)
	transport := sim.Client().Transport.(*http.Transport)
	b.Cleanup(transport.CloseIdleConnections)
	c, err := New(Config{
		Tenants: map[string]Tenant{testTenantKey: {TenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret,
			AuthorityURL: sim.URL(), GraphURL: sim.URL()}},
		Transport: transport,
		Budget:    budget,
	})
	if err != nil {
		b.Fatal(err)
	}
	return sim, c
}

// BenchmarkList reads a tenant's whole fleet with the list call, one
// op per List (ceil(n/page) Graph calls); compare with BenchmarkGetEach.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, page := range []int{100, 999} {
			b.Run(fmt.Sprintf("connectors=%d/page=%d", n, page), func(b *testing.B) {
				sim, c := benchClient(b, n, Unpaced)
				sim.SetPageSize(page)
				b.ReportAllocs()
				for b.Loop() {
					got, err := c.List(b.Context(), testTenantKey)
					if err != nil || len(got) != n {
						b.Fatalf("List = %d, %v", len(got), err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "connectors/s")
			})
		}
	}
}

// BenchmarkGetEach reads the same 100 connectors with one GET each, the
// way a run read them before List.
func BenchmarkGetEach(b *testing.B) {
	const n = 100
	_, c := benchClient(b, n, Unpaced)
	ids := fleetIDs(1, n)
	b.ReportAllocs()
	for b.Loop() {
		for _, id := range ids {
			if _, err := c.Get(b.Context(), testTenantKey, id); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "connectors/s")
}

// roomy are limits that never make a call wait: what is measured is the
// Pacer's bookkeeping, not its pacing.
var roomy = []Limit{{Name: "app.t.c", Count: 1 << 30, Per: time.Second}, {Name: "tenant.t", Count: 1 << 30, Per: time.Second}}

// BenchmarkPacerTake is the overhead the default Budget adds to each
// Graph call: one Take of two limits that have room.
func BenchmarkPacerTake(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		p := NewPacer(PacerConfig{})
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Take(b.Context(), roomy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel/one-tenant", func(b *testing.B) {
		p := NewPacer(PacerConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Take(b.Context(), roomy); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("parallel/200-tenants", func(b *testing.B) {
		p := NewPacer(PacerConfig{})
		tenants := make([][]Limit, 200)
		for i := range tenants {
			tenants[i] = []Limit{
				{Name: fmt.Sprintf("app.t%d.c", i), Count: 1 << 30, Per: time.Second},
				{Name: fmt.Sprintf("tenant.t%d", i), Count: 1 << 30, Per: time.Second},
			}
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := p.Take(b.Context(), tenants[i%len(tenants)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkGetPaced is one GET through the default Pacer (limits with
// room) against the same GET unpaced: the pacer's share of a real call.
func BenchmarkGetPaced(b *testing.B) {
	for _, tc := range []struct {
		name   string
		budget Budget
	}{{"unpaced", Unpaced}, {"pacer", roomyPacer{NewPacer(PacerConfig{})}}} {
		b.Run(tc.name, func(b *testing.B) {
			_, c := benchClient(b, 1, tc.budget)
			id := fleetIDs(1, 1)[0]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(b.Context(), testTenantKey, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// roomyPacer runs a real Pacer on limits with room, so that a benchmark
// measures its cost without being paced to Graph's 3 calls a second.
type roomyPacer struct{ p *Pacer }

func (r roomyPacer) Take(ctx context.Context, limits []Limit) error {
	wide := make([]Limit, len(limits))
	for i, l := range limits {
		wide[i] = Limit{Name: l.Name, Count: 1 << 30, Per: time.Second}
	}
	return r.p.Take(ctx, wide)
}
