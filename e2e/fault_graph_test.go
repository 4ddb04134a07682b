package e2e

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// TestFaultGraphLostUploadResponse: Graph applies the upload (a
// connector's uploadClientCertificate, a key set's uploadPkcs12) but its
// answer never arrives (the connection dies after the request went out).
// The worker does not upload again blindly: the retry reads the target and
// finds the certificate active, and the intent the first attempt recorded
// before sending tells it the rotation was this request's: one final
// outcome, succeeded/confirmed_on_retry on attempt 2. Graph saw one upload
// and the target holds the bundle.
func TestFaultGraphLostUploadResponse(t *testing.T) { onEachTarget(t, lostUploadResponse) }

// TestFaultGraph503: Graph answering 503 for longer than the client's own
// retries fails the attempt (a connector's or a key set's) as transient;
// the worker retries the request and the next attempt uploads once.
func TestFaultGraph503(t *testing.T) { onEachTarget(t, graph503) }

// TestFaultGraphTimeout: Graph slower than the client's timeout fails the
// run as transient without uploading; once Graph answers in time the same
// request uploads once.
func TestFaultGraphTimeout(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/timeout", validFor(t, 60*24*time.Hour, "p4ss-timeout"))
	conn, err := connector.New(connector.Config{
		Tenants:   map[string]connector.Tenant{tenantKey: {TenantID: tenantID, ClientID: clientID, ClientSecret: secret, AuthorityURL: fs.graph.URL(), GraphURL: fs.graph.URL()}},
		Transport: fs.tap,
		Logger:    loggerTo(fs.logs),
		SleepFunc: fs.waits.Sleep,
		Timeout:   300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := jobs.New(jobs.Config{Source: fs.source, Connector: conn, Logger: loggerTo(fs.logs)})
	if err != nil {
		t.Fatal(err)
	}
	fs.rotator = rot
	j := job("b2c/timeout", connectorIDs[0])
	fs.graph.SetLatency(2 * time.Second)
	out := fs.rotateFirst(t, j, jobs.Request{ID: "timeout-1"})
	if out.Status != contract.StatusFailed || out.Error == nil || out.Error.Class != jobs.ClassTransient {
		t.Fatalf("slow Graph: outcome %+v, want a transient failure", out)
	}
	if n := len(fs.uploads(connectorIDs[0])); n != 0 {
		t.Fatalf("%d uploads although every call timed out", n)
	}
	fs.graph.SetLatency(0)
	out = fs.rotateFirst(t, j, jobs.Request{ID: "timeout-1"})
	if out.Status != contract.StatusSucceeded {
		t.Fatalf("after Graph recovered: outcome %+v, want succeeded", out)
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want one", got)
	}
}
