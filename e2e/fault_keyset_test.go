package e2e

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// keySetJob binds the bundle at secret/<path> to the key set alone.
func keySetJob(path string) jobs.Job {
	j := job(path)
	j.KeySets = []jobs.KeySetRef{{Tenant: tenantKey, ID: keySetID}}
	return j
}

func rsaBundle(t *testing.T, password string) testkit.Bundle {
	t.Helper()
	now := time.Now()
	return testkit.NewBundle(t, testkit.BundleSpec{CN: "api.e2e.example", Key: testkit.RSAKey(t, 2048),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(60 * 24 * time.Hour), Password: password})
}

// TestFaultGraphLostKeySetUploadResponse: the fault table's lost upload
// answer, for a key set. Graph applies uploadPkcs12 but the answer never
// arrives; the retry reads the container, finds the key active and the
// intent the first attempt recorded: one final outcome,
// succeeded/confirmed_on_retry on attempt 2, and one key uploaded.
func TestFaultGraphLostKeySetUploadResponse(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := rsaBundle(t, "p4ss-lost-ks")
	fs.vault.PutBundle(t, mount, "b2c/lost-ks", b.PFX, b.Password)
	j := keySetJob("b2c/lost-ks")
	nc, ch := fs.runWorker(t, "w-lost-ks", j)
	fs.tap.dropResponses(1)
	publish(t, nc, j.Name, "lost-ks-1", `{"job":"contoso-api"}`)
	fin := finals(t, ch, "lost-ks-1")
	if len(fin) != 1 || fin[0].TargetKind != jobs.KindKeySet || fin[0].Status != jobs.StatusSucceeded ||
		fin[0].Reason != jobs.ReasonConfirmedOnRetry || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one key set succeeded/%s on attempt 2", fin, jobs.ReasonConfirmedOnRetry)
	}
	if got := fs.graph.KeyUploads(tenantID, keySetID); len(got) != 1 {
		t.Errorf("key uploads %v, want exactly one", got)
	}
}

// TestFaultGraph503KeySet: Graph answering 503 past the client's retries
// fails the key set's attempt transient; the worker retries the request and
// the next attempt uploads once.
func TestFaultGraph503KeySet(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := rsaBundle(t, "p4ss-503-ks")
	fs.vault.PutBundle(t, mount, "b2c/503-ks", b.PFX, b.Password)
	j := keySetJob("b2c/503-ks")
	nc, ch := fs.runWorker(t, "w-503-ks", j)
	fs.graph.FailNext(connector.MaxRetriesDefault+1, graphsim.Fault{Status: 503, RetryAfter: "1"})
	publish(t, nc, j.Name, "503-ks-1", `{"job":"contoso-api"}`)
	f := waitFailure(t, ch, "503-ks-1", "")
	if f.Final || f.Error.Class != jobs.ClassTransient || f.Attempt != 1 || f.TargetKind != jobs.KindKeySet {
		t.Errorf("503: %+v %+v, want a transient, retried key set failure on attempt 1", f, f.Error)
	}
	fin := finals(t, ch, "503-ks-1")
	if len(fin) != 1 || fin[0].Status != jobs.StatusSucceeded || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one succeeded on attempt 2", fin)
	}
	if got := fs.graph.KeyUploads(tenantID, keySetID); len(got) != 1 {
		t.Errorf("key uploads %v, want exactly one", got)
	}
}
