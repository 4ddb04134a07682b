package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// TestWorkerRotatesConnectorsAndKeySets: one request for a job with
// connectors and a B2C policy key container rotates all of them in one run
// through NATS, Vault and graphsim: one event per target naming its kind,
// the container's new key active by getActiveKey's rule, and a status entry
// per target whose keys do not collide.
func TestWorkerRotatesConnectorsAndKeySets(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	now := time.Now()
	// Someone's key from the last rotation by hand, active until next week.
	s.graph.AddKey(tenantID, keySetID, graphsim.Key{Kid: "by-hand-2025", NotBefore: now.Add(-300 * 24 * time.Hour), NotAfter: now.Add(7 * 24 * time.Hour)})
	b := s.put(t, "b2c/keyset", rsaBundle(t, 90*24*time.Hour, "p4ss-keyset"))
	j := job("b2c/keyset", connectorIDs...)
	j.KeySets = []jobs.KeySetRef{{Tenant: tenantKey, ID: keySetID}}
	f := s.runWorker(t, "w1", j)
	f.publish(t, j.Name, "keyset-1", `{"job":"contoso-api","reason":"new bundle written"}`)
	got := f.wait(t, "keyset-1", len(connectorIDs)+1)
	kinds := map[string]int{}
	for _, ev := range got {
		o := ev.Data
		kinds[o.TargetKind]++
		if ev.Type != "certrotator.rotation.succeeded" || o.Certificate == nil || o.Certificate.Thumbprint != b.Thumbprint {
			t.Errorf("event %s for %s %s: %+v", ev.Type, o.TargetKind, o.Connector, o.Error)
		}
		if o.TargetKind == jobs.KindKeySet && (o.Connector != keySetID || o.Previous == nil || o.Previous.Kid != "by-hand-2025") {
			t.Errorf("key set event %+v, previous %+v", o, o.Previous)
		}
	}
	if kinds[jobs.KindConnector] != len(connectorIDs) || kinds[jobs.KindKeySet] != 1 {
		t.Errorf("events by kind %v", kinds)
	}
	for _, id := range connectorIDs {
		if s.active(t, id) != b.Thumbprint || len(s.uploads(id)) != 1 {
			t.Errorf("connector %s: active %s, uploads %v", id, s.active(t, id), s.uploads(id))
		}
	}
	if active := s.activeKey(); active != b.Thumbprint || len(s.graph.KeyUploads(tenantID, keySetID)) != 1 {
		t.Errorf("key set: active %s, uploads %v; want the bundle's %s once", active, s.graph.KeyUploads(tenantID, keySetID), b.Thumbprint)
	}
	js := jetStream(t, f.nc)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, contract.StatusBucket)
	if err != nil {
		t.Fatalf("status bucket: %v", err)
	}
	entries, err := client.ReadStatus(ctx, kv, j.Name+".>")
	if err != nil {
		t.Fatalf("reading status: %v", err)
	}
	keys := map[string]bool{}
	for _, e := range entries {
		keys[e.Key] = true
	}
	if len(entries) != len(connectorIDs)+1 || !keys[contract.KeySetStatusKey(j.Name, keySetID)] {
		t.Errorf("status keys %v, want one per connector and %s", keys, contract.KeySetStatusKey(j.Name, keySetID))
	}
	// The same request again finds every target up to date.
	f.publish(t, j.Name, "keyset-2", `{"job":"contoso-api"}`)
	for _, ev := range f.wait(t, "keyset-2", len(connectorIDs)+1) {
		if ev.Data.Status != contract.StatusSkipped || ev.Data.Reason != contract.ReasonAlreadyPresent {
			t.Errorf("second run, %s %s: %s %s", ev.Data.TargetKind, ev.Data.Connector, ev.Data.Status, ev.Data.Reason)
		}
	}
	// A request may name the key set alone.
	f.publish(t, j.Name, "keyset-3", `{"job":"contoso-api","connectors":["`+keySetID+`"]}`)
	only := f.wait(t, "keyset-3", 1)
	if o := only[0].Data; len(only) != 1 || o.TargetKind != jobs.KindKeySet || o.Status != contract.StatusSkipped {
		t.Errorf("a request naming the key set: %+v", only)
	}
}

// keySetJob binds the bundle at secret/<path> to the key set alone.
func keySetJob(path string) jobs.Job {
	j := job(path)
	j.KeySets = []jobs.KeySetRef{{Tenant: tenantKey, ID: keySetID}}
	return j
}

// rsaBundle is validFor with an RSA 2048 key, as a key set requires.
func rsaBundle(t *testing.T, d time.Duration, password string) testkit.Bundle {
	t.Helper()
	return bundleFrom(t, -time.Hour, d, testkit.BundleSpec{CN: "api.e2e.example", Key: testkit.RSAKey(t, 2048), Password: password})
}

// keyUploads is the key set's uploads as certificate thumbprints.
func (s *stack) keyUploads() []string {
	var out []string
	for _, x5t := range s.graph.KeyUploads(tenantID, keySetID) {
		out = append(out, jobs.PolicyKey{X5t: x5t}.Thumbprint())
	}
	return out
}

// activeKey is the thumbprint of the key set's active key by getActiveKey's
// rule, "" when none is.
func (s *stack) activeKey() string {
	for _, k := range s.graph.Keys(tenantID, keySetID) {
		if k.Active {
			return jobs.PolicyKey{X5t: k.X5t}.Thumbprint()
		}
	}
	return ""
}
