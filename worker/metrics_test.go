package worker

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// Graph and Vault requests are counted by HTTP status; no answer is error.
func TestRemoteCallCounters(t *testing.T) {
	t.Parallel()
	w := offline(t)
	w.ObserveGraph(200)
	w.ObserveGraph(429)
	w.ObserveGraph(429)
	w.ObserveVault(0)
	w.ObserveVault(403)
	srv := newHTTPTestServer(t, w)
	_, metrics := testkit.Get(t, srv, "/metrics")
	for _, want := range []string{
		`certrotator_graph_requests_total{status="200"} 1`,
		`certrotator_graph_requests_total{status="429"} 2`,
		`certrotator_vault_requests_total{status="error"} 1`,
		`certrotator_vault_requests_total{status="403"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
