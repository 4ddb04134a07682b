package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/certrotator/certrotator/worker"
)

// TestLifecycleIssueWatchRollbackHistory runs issue 12's whole loop on real
// parts, two worker replicas on one NATS: the worker issues version 1 from
// Vault PKI and uploads it (it chains to the Vault CA and Graph took it as
// a legacy-encrypted PFX); versions 2 and 3, written by hand, roll out
// through the watch with one request each; a rollback to version 1 makes
// its thumbprint active again; the history holds all of it, newest first.
func TestLifecycleIssueWatchRollbackHistory(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	pki := s.vault.EnablePKI(t, vaulttest.PKIOptions{MaxTTL: "2160h"})
	conn := connectorIDs[0]
	j := job("b2c/lifecycle", conn)
	j.Source.PKI = &jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com", TTL: 2160 * time.Hour}
	j.RenewBefore = jobs.RenewBefore{Fraction: 0.33}
	j.Watch = 50 * time.Millisecond // real polls; their requests are told apart by Msg-Id

	rot, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Logger: loggerTo(s.logs),
		Issuer: s.source, Writer: s.source, Versions: s.source})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	srv := natsServer(t, "")
	url := srv.ClientURL()
	for i := range 2 {
		wc := worker.FromConfig(appConfig("replica-"+strconv.Itoa(i), url, j))
		wc.Rotator, wc.Versions, wc.Logger, wc.ShutdownTimeout = rot, s.source, loggerTo(s.logs), 10*time.Second
		w, err := worker.New(wc)
		if err != nil {
			t.Fatalf("building worker: %v", err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatalf("starting worker: %v", err)
		}
		t.Cleanup(func() { _ = w.Stop(context.Background()) })
	}
	nc := connect(t, url)
	evs := events(t, nc)
	active := func() string {
		for _, c := range s.graph.Certificates(tenantID, conn) {
			if c.IsActive {
				return c.Thumbprint
			}
		}
		return ""
	}
	one := func(id string) jobs.Outcome {
		t.Helper()
		ev := waitEvents(t, evs, id, 1)[0]
		if ev.Data.Status != jobs.StatusSucceeded {
			t.Fatalf("request %s: %+v, want succeeded", id, ev.Data)
		}
		return ev.Data
	}

	// Issue: nothing is in KV yet, so the run issues version 1.
	publish(t, nc, j.Name, "issue-1", `{"job":"contoso-api"}`)
	v1 := one("issue-1")
	if v1.Certificate.SourceVersion != 1 || active() != v1.Certificate.Thumbprint {
		t.Fatalf("issued %+v; Graph's active %s", v1.Certificate, active())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := s.source.Fetch(ctx, jobs.SourceRef{Mount: mount, Path: "b2c/lifecycle", Version: 1})
	if err != nil {
		t.Fatalf("reading version 1: %v", err)
	}
	b, err := bundle.Decode(m.PFX, m.Password)
	if err != nil {
		t.Fatalf("decoding version 1: %v", err)
	}
	inter := x509.NewCertPool()
	for _, c := range b.Chain {
		inter.AddCert(c)
	}
	if _, err := b.Leaf.Verify(x509.VerifyOptions{Roots: pki.Roots(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the issued certificate does not chain to the Vault CA: %v", err)
	}
	if b.Thumbprint() != v1.Certificate.Thumbprint {
		t.Errorf("KV version 1 holds %s, the outcome says %s", b.Thumbprint(), v1.Certificate.Thumbprint)
	}
	// The watch notices the version the worker wrote; it is present already.
	if o := waitEvents(t, evs, "vault-contoso-api-1", 1)[0].Data; o.Reason != jobs.ReasonAlreadyPresent || o.Trigger != jobs.TriggerWatch {
		t.Errorf("the watch's request for version 1: %+v", o)
	}

	// Versions written by hand roll out through the watch alone.
	for _, v := range []int{2, 3} {
		bb := validFor(t, time.Duration(100+v)*24*time.Hour, "pw")
		if n := s.vault.PutBundle(t, mount, "b2c/lifecycle", bb.PFX, "pw"); n != v {
			t.Fatalf("wrote version %d, want %d", n, v)
		}
		o := one("vault-contoso-api-" + strconv.Itoa(v))
		if o.Certificate.SourceVersion != v || o.Certificate.Thumbprint != bb.Thumbprint || active() != bb.Thumbprint {
			t.Fatalf("version %d rolled out as %+v; Graph's active %s", v, o.Certificate, active())
		}
	}

	// Roll back to version 1.
	publish(t, nc, j.Name, "rollback-1", `{"job":"contoso-api","version":1,"force":true,"trigger":"manual","reason":"rollback to version 1"}`)
	rb := one("rollback-1")
	if rb.Reason != jobs.ReasonRollback || rb.Certificate.SourceVersion != 1 || active() != v1.Certificate.Thumbprint {
		t.Fatalf("rollback: %+v; Graph's active %s, version 1's %s", rb, active(), v1.Certificate.Thumbprint)
	}

	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer c.Close()
	h, err := c.History(ctx, j.Name)
	if err != nil {
		t.Fatalf("reading history: %v", err)
	}
	var ids []string
	for _, ev := range h {
		if ev.Data.Status != jobs.StatusExpiring {
			ids = append(ids, ev.Data.RequestID)
		}
	}
	want := []string{"rollback-1", "vault-contoso-api-3", "vault-contoso-api-2", "vault-contoso-api-1", "issue-1"}
	if got, _ := json.Marshal(ids); string(got) != mustJSON(want) {
		t.Errorf("history request ids %s, want %s (one request per version, newest first)", got, mustJSON(want))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
