package connector

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// TestBurstToANewHTTP2HostOpensOneConnection makes 50 tenants' token calls
// and 200 Graph calls at once through a fresh client to an HTTP/2 host (graphsim serving Entra and
// Graph, as Microsoft's front ends speak HTTP/2) and counts the
// connections it accepted. Go's transport cannot know the host speaks
// HTTP/2 before a handshake has said so, and dialed one connection per call
// of the burst (hundreds of TLS handshakes, the worker's peak memory at
// 10,000/200); warmTransport lets the first call make the connection and
// the rest share it.
func TestBurstToANewHTTP2HostOpensOneConnection(t *testing.T) {
	t.Parallel()
	const tenants, callsEach = 50, 4
	sim := graphsim.NewTest(t).WithHTTP2()
	cfg := Config{Tenants: map[string]Tenant{}, Budget: Unpaced, MaxRetries: -1}
	for i := range tenants {
		id := fmt.Sprintf("0000000%d-aaaa-bbbb-cccc-%012d", i%10, i)
		sim.AddTenant(id, testClientID, testSecret).AddConnector(id, testConnectorID, "contoso-api", seedCert)
		cfg.Tenants[fmt.Sprint("t", i)] = Tenant{TenantID: id, ClientID: testClientID, ClientSecret: testSecret}
	}
	sim.Start()
	// One transport for every tenant, as the worker has (the emulator's CA
	// trusted as a system root would be).
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(sim.CACertPEM())
	tr := defaultTransport()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.Transport = tr
	for key, ten := range cfg.Tenants {
		ten.AuthorityURL, ten.GraphURL = sim.URL(), sim.URL()
		cfg.Tenants[key] = ten
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, tenants*callsEach)
	for key := range cfg.Tenants {
		for range callsEach {
			wg.Go(func() {
				if _, err := c.Get(t.Context(), key, testConnectorID); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Get: %v", err)
	}
	if n := sim.Connections(); n != 1 {
		t.Errorf("graphsim accepted %d connections for %d tenants' tokens and %d calls at once over HTTP/2; want 1",
			n, tenants, tenants*callsEach)
	}
}
