package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

const (
	// bundleCount is how many distinct bundles the fleet shares: a few
	// bundles, many jobs, as issue 9's teams have them.
	bundleCount = 4
	// jobsPerTenant splits each tenant's connectors over at least two jobs,
	// so that with several replicas two of them can work in one tenant at
	// once and the budget must hold across replicas.
	jobsPerTenant = 2
	// jobSizeMax splits a big tenant further: at most this many connectors
	// per job.
	jobSizeMax    = 100
	fleetClientID = "11111111-1111-4111-8111-1111111111f1"
	fleetSecret   = "fleet-client-secret"
)

// fleetSpec is what one run needs to build its fleet.
type fleetSpec struct {
	fleetSize
	Latency time.Duration
	Limits  graphsim.Limits
	Bundles []jobs.SourceRef // in Vault, written once for every run
}

// fleet is the layout of a spec: tenants, and jobs of connectors within
// one tenant, each job reading one of the shared bundles.
type fleet struct {
	tenantIDs []string // by index; the tenant key is tenantKeyOf(index)
	jobs      []jobs.Job
}

func tenantKeyOf(i int) string { return fmt.Sprintf("t%03d", i) }

// layout deals connector i to tenant i mod Tenants, then splits each
// tenant's connectors into jobsPerTenant jobs, or more of at most
// jobSizeMax; job k reads bundle k mod bundleCount.
func (s fleetSpec) layout() fleet {
	var f fleet
	perTenant := make([][]jobs.ConnectorRef, s.Tenants)
	for i := range s.Tenants {
		f.tenantIDs = append(f.tenantIDs, fmt.Sprintf("8a1c2b3d-0000-4000-8000-%012d", i+1))
	}
	for i := range s.Connectors {
		t := i % s.Tenants
		id := fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", i+1)
		perTenant[t] = append(perTenant[t], jobs.ConnectorRef{Tenant: tenantKeyOf(t), ID: id})
	}
	for t, refs := range perTenant {
		parts := max(jobsPerTenant, (len(refs)+jobSizeMax-1)/jobSizeMax)
		for part := range parts {
			lo, hi := part*len(refs)/parts, (part+1)*len(refs)/parts
			if lo == hi {
				continue
			}
			k := len(f.jobs)
			f.jobs = append(f.jobs, jobs.Job{
				Name:   fmt.Sprintf("fleet-%s-%d", tenantKeyOf(t), part),
				Source: s.Bundles[k%len(s.Bundles)], Policy: jobs.PolicyOnChange,
				MinValidity: jobs.MinValidityDefault, MaxAttempts: 8, Reencode: true,
				WarnBefore: jobs.WarnBeforeDefault(), Connectors: refs[lo:hi],
			})
		}
	}
	return f
}

// writeBundles puts n distinct bundles in Vault KV and returns where.
func writeBundles(t *testing.T, v *vaulttest.Server, n int) []jobs.SourceRef {
	t.Helper()
	refs := make([]jobs.SourceRef, n)
	for i := range refs {
		path := fmt.Sprintf("b2c/fleet-%d", i)
		v.PutBundle(t, "secret", path, benchBundle(t), "bench-password")
		refs[i] = jobs.SourceRef{Mount: "secret", Path: path, PFXField: "pfx", PasswordField: "password"}
	}
	return refs
}

// newGraph starts a fresh emulator holding the fleet's tenants and
// connectors (none holds a certificate, so every connector is due), with
// Graph's limits on the spec's clock and its latency, its PFX verdict cache
// and HTTP/2 (BENCH_GRAPHSIM_PLAIN=1: neither, as before issue 20). Each
// run gets its own, so its counts are its own.
func newGraph(t *testing.T, s fleetSpec, f fleet) *graphsim.Server {
	t.Helper()
	sim := graphsim.NewTest(t)
	for _, id := range f.tenantIDs {
		sim.AddTenant(id, fleetClientID, fleetSecret)
	}
	for _, j := range f.jobs {
		for _, c := range j.Connectors {
			sim.AddConnector(f.tenantIDOf(c.Tenant), c.ID, "fleet "+c.ID)
		}
	}
	plain := os.Getenv("BENCH_GRAPHSIM_PLAIN") != ""
	if !plain {
		// As in the process mode: HTTP/2, so that calls share a connection
		// instead of a TLS handshake each.
		sim.WithHTTP2()
	}
	sim.Start()
	// One real decode per distinct bundle, not per upload: the emulator's
	// CPU is not the worker's.
	sim.SetPFXCache(!plain)
	sim.SetRecording(false)
	sim.SetLimits(s.Limits)
	sim.SetLatency(s.Latency)
	return sim
}

func (f fleet) tenantIDOf(key string) string {
	var i int
	if _, err := fmt.Sscanf(key, "t%03d", &i); err != nil {
		panic(fmt.Sprintf("fleet tenant key %q", key))
	}
	return f.tenantIDs[i]
}

// newGraphClient is one replica's Graph client: every tenant of the fleet,
// Graph's limits on the spec's window, and the budget the client picks by
// default (budget nil) or the one given.
func newGraphClient(t *testing.T, s fleetSpec, f fleet, sim *graphsim.Server, budget connector.Budget) *connector.Client {
	t.Helper()
	transport := sim.Client().Transport.(*http.Transport).Clone()
	// With BENCH_GRAPHSIM_PLAIN the emulator speaks HTTP/1.1 only: one
	// connection per call in flight, kept for reuse.
	transport.MaxIdleConnsPerHost = 512
	t.Cleanup(transport.CloseIdleConnections)
	tenants := make(map[string]connector.Tenant, len(f.tenantIDs))
	for i, id := range f.tenantIDs {
		tenants[tenantKeyOf(i)] = connector.Tenant{TenantID: id, ClientID: fleetClientID, ClientSecret: fleetSecret,
			AuthorityURL: sim.URL(), GraphURL: sim.URL(),
			RateLimit: connector.RateLimit{AppPerMinute: s.Limits.AppPerWindow, TenantPerMinute: s.Limits.TenantPerWindow}}
	}
	c, err := connector.New(connector.Config{Tenants: tenants, Transport: transport, RateWindow: s.Limits.Window, Budget: budget})
	if err != nil {
		t.Fatalf("building graph client: %v", err)
	}
	return c
}

// countedSource counts reads in a counter shared by the replicas, so
// that a run reports its Vault reads across them.
type countedSource struct {
	jobs.Source
	n *atomic.Int64
}

func (c countedSource) Fetch(ctx context.Context, ref jobs.SourceRef) (jobs.Material, error) {
	c.n.Add(1)
	return c.Source.Fetch(ctx, ref)
}

// newSource is a Vault source of its own (each replica has one) whose
// reads are counted in n.
func newSource(t *testing.T, v *vaulttest.Server, n *atomic.Int64) jobs.Source {
	t.Helper()
	src, err := vaultsrc.New(context.Background(), vaultsrc.Config{Address: v.Addr, Auth: vaultsrc.Auth{Token: v.Token}})
	if err != nil {
		t.Fatalf("building vault source: %v", err)
	}
	return countedSource{Source: src, n: n}
}
