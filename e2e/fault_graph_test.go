package e2e

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
)

// TestFaultGraphLostUploadResponse: Graph applies the upload but its answer
// never arrives (the connection dies after the request went out). The
// worker does not upload again blindly: the retry reads the connector and
// finds the certificate active, and the intent the first attempt recorded
// before sending tells it the rotation was this request's: one final
// outcome, succeeded/confirmed_on_retry on attempt 2. Graph saw one upload
// and the connector holds the bundle.
func TestFaultGraphLostUploadResponse(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := validFor(t, 60*24*time.Hour, "p4ss-lost")
	fs.vault.PutBundle(t, mount, "b2c/lost", b.PFX, b.Password)
	j := job("b2c/lost", connectorIDs[0])
	nc, ch := fs.runWorker(t, "w-lost", j)
	fs.tap.dropResponses(1)
	publish(t, nc, j.Name, "lost-1", `{"job":"contoso-api"}`)
	fin := finals(t, ch, "lost-1")
	if len(fin) != 1 || fin[0].Status != jobs.StatusSucceeded || fin[0].Reason != jobs.ReasonConfirmedOnRetry || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one succeeded/%s on attempt 2", fin, jobs.ReasonConfirmedOnRetry)
	}
	if c := fin[0].Certificate; c == nil || c.Thumbprint != b.Thumbprint {
		t.Errorf("certificate %+v, want the bundle's %s", c, b.Thumbprint)
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want exactly one", got)
	}
	if got := fs.active(t, connectorIDs[0]); got != b.Thumbprint {
		t.Errorf("active %s, want the bundle's %s", got, b.Thumbprint)
	}
}

// TestFaultGraph503: Graph answering 503 for longer than the client's own
// retries fails the attempt as transient; the worker retries the request
// and the next attempt uploads once.
func TestFaultGraph503(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := validFor(t, 60*24*time.Hour, "p4ss-503")
	fs.vault.PutBundle(t, mount, "b2c/503", b.PFX, b.Password)
	j := job("b2c/503", connectorIDs[0])
	nc, ch := fs.runWorker(t, "w-503", j)
	fs.graph.FailNext(connector.MaxRetriesDefault+1, graphsim.Fault{Status: 503, RetryAfter: "1"})
	publish(t, nc, j.Name, "503-1", `{"job":"contoso-api"}`)
	f := waitFailure(t, ch, "503-1", "")
	if f.Final || f.Error.Class != jobs.ClassTransient || f.Attempt != 1 {
		t.Errorf("503: attempt %d final=%v class %s code %s, want a transient, retried failure on attempt 1", f.Attempt, f.Final, f.Error.Class, f.Error.Code)
	}
	t.Logf("503 past the client's retries: code %s", f.Error.Code)
	fin := finals(t, ch, "503-1")
	if len(fin) != 1 || fin[0].Status != jobs.StatusSucceeded || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one succeeded on attempt 2", fin)
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 || got[0] != b.Thumbprint {
		t.Errorf("uploads %v, want exactly the bundle's", got)
	}
}

// TestFaultGraphTimeout: Graph slower than the client's timeout fails the
// run as transient without uploading; once Graph answers in time the same
// request uploads once.
func TestFaultGraphTimeout(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := validFor(t, 60*24*time.Hour, "p4ss-timeout")
	fs.vault.PutBundle(t, mount, "b2c/timeout", b.PFX, b.Password)
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
	out := byConnector(t, fs.rotate(t, j, jobs.Request{ID: "timeout-1"}))[connectorIDs[0]]
	if out.Status != jobs.StatusFailed || out.Error == nil || out.Error.Class != jobs.ClassTransient {
		t.Fatalf("slow Graph: outcome %+v, want a transient failure", out)
	}
	if n := len(fs.uploads(connectorIDs[0])); n != 0 {
		t.Fatalf("%d uploads although every call timed out", n)
	}
	fs.graph.SetLatency(0)
	out = byConnector(t, fs.rotate(t, j, jobs.Request{ID: "timeout-1"}))[connectorIDs[0]]
	if out.Status != jobs.StatusSucceeded {
		t.Fatalf("after Graph recovered: outcome %+v, want succeeded", out)
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want one", got)
	}
}
