package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

const (
	tenantKey = "bench"
	tenantID  = "00000000-0000-4000-8000-0000000000be"
	clientID  = "11111111-1111-4111-8111-1111111111be"
	secret    = "bench-client-secret"
)

// countingSource counts reads so the benchmark can report Vault reads per run.
type countingSource struct {
	jobs.Source
	n atomic.Int64
}

func (c *countingSource) Fetch(ctx context.Context, ref jobs.SourceRef) (jobs.Material, error) {
	c.n.Add(1)
	return c.Source.Fetch(ctx, ref)
}

// rig is the real pipeline over Vault and graphsim, with n connectors bound
// to one job whose bundle is already in Vault.
type rig struct {
	graph   *graphsim.Server
	source  *countingSource
	rotator *jobs.Rotator
	job     jobs.Job
	conn    *connector.Client
}

func newRig(b *testing.B, n int, latency time.Duration) *rig {
	b.Helper()
	v := vaulttest.Start(b)
	r := &rig{graph: graphsim.NewTest(b).AddTenant(tenantID, clientID, secret)}
	r.job = jobs.Job{
		Name: "bench", Source: jobs.SourceRef{Mount: "secret", Path: "b2c/bench", PFXField: "pfx", PasswordField: "password"},
		Policy: jobs.PolicyOnChange, MinValidity: jobs.MinValidityDefault, MaxAttempts: 8, Reencode: true,
		WarnBefore: jobs.WarnBeforeDefault(),
	}
	for i := range n {
		id := fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", i+1)
		r.graph.AddConnector(tenantID, id, "bench "+id)
		r.job.Connectors = append(r.job.Connectors, jobs.ConnectorRef{Tenant: tenantKey, ID: id})
	}
	r.graph.Start()
	r.graph.SetLatency(latency)
	pfx := benchBundle(b)
	v.PutBundle(b, "secret", "b2c/bench", pfx, "bench-password")
	src, err := vaultsrc.New(context.Background(), vaultsrc.Config{Address: v.Addr, Auth: vaultsrc.Auth{Token: v.Token}})
	if err != nil {
		b.Fatalf("building source: %v", err)
	}
	r.source = &countingSource{Source: src}
	r.conn, err = connector.New(connector.Config{
		Tenants:   map[string]connector.Tenant{tenantKey: {TenantID: tenantID, ClientID: clientID, ClientSecret: secret, AuthorityURL: r.graph.URL(), GraphURL: r.graph.URL()}},
		Transport: r.graph.Client().Transport,
		// These benchmarks measure the pipeline, not Graph's limits: one
		// tenant at Graph's 200 a minute would pace them to 3 calls a second.
		Budget: connector.Unpaced,
	})
	if err != nil {
		b.Fatalf("building graph client: %v", err)
	}
	r.rotator, err = jobs.New(jobs.Config{Source: r.source, Connector: r.conn, Concurrency: jobs.ConnectorConcurrencyDefault})
	if err != nil {
		b.Fatalf("building rotator: %v", err)
	}
	return r
}

// benchBundle is an AES-256 PFX (the form OpenSSL 3 writes), so every
// forced run pays the re-encode to SHA1/3DES as production does.
func benchBundle(b testing.TB) []byte {
	b.Helper()
	now := time.Now()
	return testkit.NewBundle(b, testkit.BundleSpec{CN: "bench.example", NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(90 * 24 * time.Hour), Password: "bench-password", Encoder: testkit.AES256, SelfSigned: true}).PFX
}

// countCalls returns how many GETs and upload POSTs graphsim served.
func countCalls(g *graphsim.Server) (gets, posts int) {
	for _, r := range g.Requests() {
		switch {
		case r.Method == "GET" && strings.Contains(r.Path, "apiConnectors"):
			gets++
		case r.Method == "POST" && strings.Contains(r.Path, "uploadClientCertificate"):
			posts++
		}
	}
	return gets, posts
}

// benchRotate runs one forced rotation per iteration (every connector is
// uploaded each time) and reports the calls each run made.
func benchRotate(b *testing.B, n int, latency time.Duration, force bool) {
	r := newRig(b, n, latency)
	ctx := context.Background()
	// Warm the token cache and, for the skip case, upload once.
	r.rotator.Rotate(ctx, r.job, jobs.Request{Job: r.job.Name, Force: true})
	g0, p0 := countCalls(r.graph)
	s0 := r.source.n.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		outs := r.rotator.Rotate(ctx, r.job, jobs.Request{Job: r.job.Name, Force: force})
		for _, o := range outs {
			if o.Status == contract.StatusFailed {
				b.Fatalf("rotation failed: %+v", o.Error)
			}
		}
	}
	b.StopTimer()
	g1, p1 := countCalls(r.graph)
	runs := float64(b.N)
	b.ReportMetric(float64(r.source.n.Load()-s0)/runs, "vault_reads/run")
	b.ReportMetric(float64(g1-g0)/runs/float64(n), "graph_gets/connector")
	b.ReportMetric(float64(p1-p0)/runs/float64(n), "graph_posts/connector")
}

// BenchmarkRotateUpload: one job, forced, so every connector is uploaded.
func BenchmarkRotateUpload(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("connectors=%d", n), func(b *testing.B) { benchRotate(b, n, 0, true) })
	}
}

// BenchmarkRotateUploadLatency50ms is the same with Graph answering in 50 ms.
func BenchmarkRotateUploadLatency50ms(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("connectors=%d", n), func(b *testing.B) { benchRotate(b, n, 50*time.Millisecond, true) })
	}
}

// BenchmarkRotateAlreadyPresent: the steady state of a cron tick, nothing to do.
func BenchmarkRotateAlreadyPresent(b *testing.B) {
	b.Run("connectors=10", func(b *testing.B) { benchRotate(b, 10, 0, false) })
}
