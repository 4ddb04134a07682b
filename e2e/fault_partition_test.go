package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// TestFaultReplicaCutOffFromNATS: a replica reaches Graph but its link to
// NATS freezes (faultproxy: connections open, nothing forwarded) while its
// upload is slow. It can no longer confirm its job lease, so it must give
// the upload up before another replica could hold the lease, and never
// send it; meanwhile a newer bundle is written. Once the link thaws the
// request is retried and uploads the newest bundle: the connector is never
// on the older certificate and Graph saw one upload.
func TestFaultReplicaCutOffFromNATS(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/cutoff", validFor(t, 60*24*time.Hour, "p4ss-cutoff-old"))
	f := newFleet(t)
	link := newProxy(t, strings.TrimPrefix(f.url, "nats://"))
	j := job("b2c/cutoff", connectorIDs[0])
	startWorker(t, fs.stack, appConfig("w-cutoff", link.URL("nats"), j), nil, 0)

	release := fs.tap.holdUploads()
	defer release()
	f.publish(t, j.Name, "cutoff-1", `{"job":"contoso-api"}`)
	fs.tap.waitHeld(t)
	link.Freeze()
	newer := fs.put(t, "b2c/cutoff", validFor(t, 90*24*time.Hour, "p4ss-cutoff-new"))
	start := time.Now()
	await(t, fs.tap.abandoned, "the cut-off replica kept its upload of the older bundle going past the lease's TTL")
	t.Logf("upload given up %s after the link froze", time.Since(start).Round(100*time.Millisecond))
	if got := fs.uploads(connectorIDs[0]); len(got) != 0 {
		t.Fatalf("uploads %v while the replica was cut off, want none", got)
	}
	release()
	link.Thaw()

	thawed := time.Now()
	defer func() {
		t.Logf("final outcome %s after the thaw", time.Since(thawed).Round(100*time.Millisecond))
		if !t.Failed() {
			return
		}
		for _, l := range strings.Split(fs.logs.String(), "\n") {
			if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") || strings.Contains(l, "nats") || strings.Contains(l, "lock") {
				t.Log(l)
			}
		}
	}()
	// The retry waits for the lease the cut-off replica could not release:
	// a renewal sent into the frozen link lands after the thaw, so the
	// release's revision no longer matches and the lock lives out its TTL.
	fin := finalsWithin(t, f.ev, "cutoff-1", 2*contract.LockTTL)
	if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Certificate == nil || fin[0].Certificate.Thumbprint != newer.Thumbprint {
		t.Fatalf("finals %+v, want one succeeded with the newer bundle", fin)
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 || got[0] != newer.Thumbprint {
		t.Errorf("uploads %v, want only the newer bundle's %s", got, newer.Thumbprint)
	}
	if got := fs.active(t, connectorIDs[0]); got != newer.Thumbprint {
		t.Errorf("active %s, want the newer bundle's %s", got, newer.Thumbprint)
	}
}
