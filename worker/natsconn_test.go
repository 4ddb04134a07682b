package worker

import (
	"context"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestReadyzSaysWhatProvisioningWaitsFor: while bus.Provision retries a
// step (bus's TestProvisioningWaitsAndSaysWhy), /readyz is 503 and names
// the step and, in our own words, what it waits for; once provisioning
// is done it says so no more.
func TestReadyzSaysWhatProvisioningWaitsFor(t *testing.T) {
	t.Parallel()
	w := offline(t)
	srv := newHTTPTestServer(t, w)
	w.conn.waiting("stream "+contract.RequestsStream, context.DeadlineExceeded)
	code, body := testkit.Get(t, srv, "/readyz")
	want := "nats: provisioning stream " + contract.RequestsStream + ": no answer from JetStream in time (retrying)"
	if code != 503 || !strings.Contains(body, want) {
		t.Fatalf("/readyz = %d %q, want 503 naming %q", code, body, want)
	}
	w.conn.waiting("", nil)
	if _, body := testkit.Get(t, srv, "/readyz"); strings.Contains(body, "provisioning") {
		t.Fatalf("/readyz after provisioning = %q, still waiting", body)
	}
}
