package connector

import (
	"sync"
	"testing"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestDefaultTransportReusesConnections makes rounds of IdleConnsPerHostDefault
// calls at once over HTTP/1.1 (graphsim's default) through the default
// transport and counts the connections graphsim accepted: with Go's default
// of 2 idle connections per host nearly every call of a later round opened
// a new one (a TLS handshake each); now the first round's connections
// carry the later rounds.
func TestDefaultTransportReusesConnections(t *testing.T) {
	t.Parallel()
	sim := graphsim.NewTest(t).
		AddTenant(testTenantID, testClientID, testSecret).
		AddConnector(testTenantID, testConnectorID, "contoso-api", seedCert).
		Start()
	ca := testkit.WriteFile(t, t.TempDir(), "ca.pem", string(sim.CACertPEM()))
	c, err := New(Config{Tenants: map[string]Tenant{testTenantKey: {
		TenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret,
		AuthorityURL: sim.URL(), GraphURL: sim.URL(), CAFile: ca,
	}}, Budget: Unpaced, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range c.tenants {
		t.Cleanup(tc.http.CloseIdleConnections)
	}
	// The token first, so that the rounds are Graph calls only.
	if _, err := c.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	const rounds, conc = 5, IdleConnsPerHostDefault
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, conc)
		for range conc {
			wg.Go(func() {
				if _, err := c.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Get: %v", err)
		}
	}
	// Each round may open up to conc connections at most once; without
	// reuse the rounds open about rounds×(conc−2).
	if n := sim.Connections(); n > 2*conc {
		t.Errorf("graphsim accepted %d connections for %d calls in rounds of %d; want at most %d (idle connections reused)",
			n, rounds*conc+1, conc, 2*conc)
	} else {
		t.Logf("%d connections for %d calls", n, rounds*conc+1)
	}
}
