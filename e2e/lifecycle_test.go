package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/certrotator/certrotator/worker"
)

// TestLifecycleIssueWatchRollbackHistory runs issue 12's whole loop on real
// parts, two worker replicas on one NATS: the worker issues version 1 from
// Vault PKI and uploads it (it chains to the Vault CA and Graph took it as
// a legacy-encrypted PFX); versions 2 and 3, written by hand, roll out
// through the watch with one request each (Msg-Id vault-<job>-<version>-
// <created>); a Vault-native rollback to version 1 (its data written as
// version 4, as `certrotator rollback` does with the caller's credentials,
// then a forced request pinned to 4) makes its thumbprint active again, and
// a plain run afterwards keeps it; the history holds all of it, newest
// first.
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
	f := newFleet(t)
	for i := range 2 {
		app := appConfig("replica-"+strconv.Itoa(i), f.url, j)
		wc := workerConfig(app)
		wc.Bus = bustest.Config(t, app)
		wc.Rotator, wc.Versions, wc.Logger, wc.ShutdownTimeout = rot, s.source, loggerTo(s.logs), 10*time.Second
		workertest.Run(t, workertest.BuildTolerant(t, worker.New, wc))
	}
	active := func() string { return s.active(t, conn) }
	watchID := func(v int) string {
		t.Helper()
		h, err := s.source.Versions(context.Background(), j.Source)
		if err != nil {
			t.Fatal(err)
		}
		vi, ok := h.Version(v)
		if !ok {
			t.Fatalf("no metadata of version %d", v)
		}
		return "vault-contoso-api-" + strconv.Itoa(v) + "-" + strconv.FormatInt(vi.Created.Unix(), 10)
	}
	one := func(id string) jobs.Outcome {
		t.Helper()
		ev := f.wait(t, id, 1)[0]
		if ev.Data.Status != contract.StatusSucceeded {
			t.Fatalf("request %s: %+v, want succeeded", id, ev.Data)
		}
		return ev.Data
	}

	// Issue: nothing is in KV yet, so the run issues version 1.
	f.publish(t, j.Name, "issue-1", `{"job":"contoso-api"}`)
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
	if o := f.wait(t, watchID(1), 1)[0].Data; o.Reason != contract.ReasonAlreadyPresent || o.Trigger != contract.TriggerWatch {
		t.Errorf("the watch's request for version 1: %+v", o)
	}

	// Versions written by hand roll out through the watch alone.
	for _, v := range []int{2, 3} {
		bb := validFor(t, time.Duration(100+v)*24*time.Hour, "pw")
		if n := s.vault.PutBundle(t, mount, "b2c/lifecycle", bb.PFX, "pw"); n != v {
			t.Fatalf("wrote version %d, want %d", n, v)
		}
		o := one(watchID(v))
		if o.Certificate.SourceVersion != v || o.Certificate.Thumbprint != bb.Thumbprint || active() != bb.Thumbprint {
			t.Fatalf("version %d rolled out as %+v; Graph's active %s", v, o.Certificate, active())
		}
	}

	// Roll back to version 1 the Vault-native way, with an operator's own
	// client (the worker's writes are its issuance only).
	operator, err := vaultsrc.New(ctx, vaultsrc.Config{Address: s.vault.Addr, Auth: vaultsrc.Auth{Token: s.vault.Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = operator.Stop(context.Background()) }()
	v4, err := operator.Rollback(ctx, j.Source, 1, "tester@e2e")
	if err != nil || v4 != 4 {
		t.Fatalf("rollback wrote version %d, %v; want 4", v4, err)
	}
	f.publish(t, j.Name, "rollback-1", `{"job":"contoso-api","version":4,"force":true,"trigger":"manual","reason":"rollback to version 1"}`)
	rb := one("rollback-1")
	if rb.Reason != contract.ReasonRollback || rb.Certificate.SourceVersion != 4 || active() != v1.Certificate.Thumbprint {
		t.Fatalf("rollback: %+v; Graph's active %s, version 1's %s", rb, active(), v1.Certificate.Thumbprint)
	}
	// The watch sees version 4, and a plain run reads it as the latest:
	// both leave the rolled-back certificate active.
	for _, id := range []string{watchID(4), "plain-after-rollback"} {
		if id == "plain-after-rollback" {
			f.publish(t, j.Name, id, `{"job":"contoso-api"}`)
		}
		o := f.wait(t, id, 1)[0].Data
		if o.Status == contract.StatusFailed || o.Certificate.SourceVersion != 4 || active() != v1.Certificate.Thumbprint {
			t.Fatalf("%s after the rollback: %+v; Graph's active %s, want version 1's %s", id, o, active(), v1.Certificate.Thumbprint)
		}
	}
	if o := f.wait(t, "plain-after-rollback", 1)[0].Data; o.Status != contract.StatusSkipped || o.Reason != contract.ReasonAlreadyPresent {
		t.Errorf("a plain run after the rollback: %+v, want skipped/already_present", o)
	}

	c, err := client.Dial(ctx, f.url, client.Options{})
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
		// The watch's request for version 4 may come before or after
		// rollback-1: it is checked above, and left out of the order.
		if ev.Data.Status != contract.StatusExpiring && ev.Data.RequestID != watchID(4) {
			ids = append(ids, ev.Data.RequestID)
		}
	}
	want := []string{"plain-after-rollback", "rollback-1", watchID(3), watchID(2), watchID(1), "issue-1"}
	if got, _ := json.Marshal(ids); string(got) != mustJSON(want) {
		t.Errorf("history request ids %s, want %s (one request per version, newest first)", got, mustJSON(want))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
