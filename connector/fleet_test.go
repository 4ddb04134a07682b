package connector

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// Tenants of a fleet, beside testTenantID under testTenantKey.
const (
	otherTenantKey = "fabrikam"
	otherTenantID  = "8a1c2b3d-0000-4000-8000-00000000beef"
)

// fleetIDs returns n connector ids numbered from 1 under a prefix digit.
func fleetIDs(prefix, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("7b3a0c1e-0000-4000-800%d-%012d", prefix, i+1)
	}
	return ids
}

// fleet is an emulator with two tenants (n connectors each, the first of
// testTenantID seeded) and a client for both, configured by configure.
type fleet struct {
	sim    *graphsim.Server
	client *Client
	ids    map[string][]string // by tenant key
}

func newFleet(t *testing.T, n int, now func() time.Time, configure func(*Config)) *fleet {
	t.Helper()
	f := &fleet{ids: map[string][]string{testTenantKey: fleetIDs(1, n), otherTenantKey: fleetIDs(2, n)}}
	sim := graphsim.NewTest(t).
		AddTenant(testTenantID, testClientID, testSecret).
		AddTenant(otherTenantID, testClientID, testSecret).
		WithClock(now)
	for i, id := range f.ids[testTenantKey] {
		var seed []graphsim.Cert
		if i == 0 {
			seed = []graphsim.Cert{seedCert}
		}
		sim.AddConnector(testTenantID, id, "c-"+id[len(id)-3:], seed...)
	}
	for _, id := range f.ids[otherTenantKey] {
		sim.AddConnector(otherTenantID, id, "f-"+id[len(id)-3:])
	}
	f.sim = sim.Start()
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	tenant := func(id string) Tenant {
		return Tenant{TenantID: id, ClientID: testClientID, ClientSecret: testSecret, AuthorityURL: sim.URL(), GraphURL: sim.URL()}
	}
	cfg := Config{
		Tenants:   map[string]Tenant{testTenantKey: tenant(testTenantID), otherTenantKey: tenant(otherTenantID)},
		Transport: transport,
		NowFunc:   now,
		SleepFunc: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	if configure != nil {
		configure(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.client = c
	return f
}

// listCalls counts the list calls the emulator answered.
func (f *fleet) listCalls() int {
	n := 0
	for _, r := range f.sim.Requests() {
		if r.Method == http.MethodGet && r.Path == listPath {
			n++
		}
	}
	return n
}
