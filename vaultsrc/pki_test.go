package vaultsrc

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

func testIssueAndRevoke(t *testing.T, srv *vaulttest.Server) {
	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-issue"})
	c, logs := tokenClient(t, srv, srv.Token)
	ctx := testContext(t)
	iss, err := c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com",
		AltNames: []string{"b2c.example.com"}, TTL: 48 * time.Hour})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	leaf := pemCert(t, iss.CertificatePEM)
	inter := x509.NewCertPool()
	for _, p := range iss.ChainPEM {
		inter.AddCert(pemCert(t, p))
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pki.Roots(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not chain to the Vault root: %v", err)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 49*time.Hour || life < 47*time.Hour {
		t.Errorf("lifetime %s, want the 48h asked for", life)
	}
	if leaf.Subject.CommonName != "api.example.com" || !strings.Contains(strings.Join(leaf.DNSNames, ","), "b2c.example.com") {
		t.Errorf("subject %s, SANs %v", leaf.Subject, leaf.DNSNames)
	}
	if !strings.HasPrefix(iss.PrivateKeyPEM, "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key is not PKCS#8 PEM")
	}
	if srv.Revoked(t, pki.Mount, iss.Serial) {
		t.Fatalf("fresh certificate already revoked")
	}
	if err := c.Revoke(ctx, pki.Mount, iss); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if !srv.Revoked(t, pki.Mount, iss.Serial) {
		t.Errorf("serial %s not revoked", iss.Serial)
	}
	if strings.Contains(logs.String(), strings.Split(iss.PrivateKeyPEM, "\n")[1]) {
		t.Errorf("logs hold the private key")
	}
	_, err = c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.contoso.test"})
	wantFailure(t, err, jobs.ClassPermanent, CodeRejected, []string{"issuing api.contoso.test from pki-issue/issue/b2c-api", "400"})
}

func pemCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		t.Fatalf("no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// graphRig is graphsim with one tenant and one connector, and a Graph client
// for it.
type graphRig struct {
	sim  *graphsim.Server
	conn *connector.Client
}

const (
	rigTenantID  = "11111111-2222-4333-8444-555555555555"
	rigClientID  = "66666666-7777-4888-8999-000000000000"
	rigConnector = "7b3a0c1e-0000-4000-8000-000000000001"
)

func newGraphRig(t *testing.T) graphRig {
	t.Helper()
	secret := "graphsim-client-secret"
	sim := graphsim.NewTest(t).AddTenant(rigTenantID, rigClientID, secret).AddConnector(rigTenantID, rigConnector, "api").Start()
	conn, err := connector.New(connector.Config{
		Tenants: map[string]connector.Tenant{"contoso": {TenantID: rigTenantID, ClientID: rigClientID, ClientSecret: secret,
			AuthorityURL: sim.URL(), GraphURL: sim.URL()}},
		Transport: sim.Client().Transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	return graphRig{sim: sim, conn: conn}
}

// pkiJob issues from pki into secret/<path>, 33% before expiry.
func pkiJob(path string, pki *vaulttest.PKI) jobs.Job {
	return jobs.Job{
		Name:        "pki-job",
		Source:      jobs.SourceRef{Mount: "secret", Path: path, PFXField: "pfx", PasswordField: "password", PKI: &jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com", TTL: 240 * time.Hour, KeyType: "rsa", KeyBits: 2048}},
		Policy:      jobs.PolicyOnChange,
		RenewBefore: jobs.RenewBefore{Fraction: 0.33},
		MinValidity: time.Hour,
		WarnBefore:  []time.Duration{}, // the short test lifetimes would warn
		MaxAttempts: 8,
		Reencode:    true,
		Connectors:  []jobs.ConnectorRef{{Tenant: "contoso", ID: rigConnector}},
	}
}

// rendezvous makes each rotator's first call of Versions wait until every
// rotator has read, so that racing rotators all read the same
// current_version before any writes; later calls (the loser settling its
// write) pass. It delegates to the real client.
type rendezvous struct {
	*Client
	wg   *sync.WaitGroup
	once *sync.Once
}

func (r rendezvous) Versions(ctx context.Context, ref jobs.SourceRef) (jobs.History, error) {
	h, err := r.Client.Versions(ctx, ref)
	r.once.Do(func() {
		r.wg.Done()
		r.wg.Wait()
	})
	return h, err
}

func testIssuanceRace(t *testing.T, srv *vaulttest.Server) {
	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-race"})
	g := newGraphRig(t)
	job := pkiJob("b2c/race", pki)
	var wg sync.WaitGroup
	wg.Add(2)
	rotators := make([]*jobs.Rotator, 2)
	for i := range rotators {
		c, _ := tokenClient(t, srv, srv.Token) // one client per replica
		var err error
		rotators[i], err = jobs.New(jobs.Config{Source: c, Connector: g.conn, Issuer: c, Writer: c, Versions: rendezvous{c, &wg, new(sync.Once)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	outs := make([][]jobs.Outcome, 2)
	var run sync.WaitGroup
	for i, r := range rotators {
		run.Go(func() { outs[i] = r.Rotate(testContext(t), job, jobs.Request{Job: job.Name, ID: "race"}) })
	}
	run.Wait()
	c, _ := tokenClient(t, srv, srv.Token)
	h, err := c.Versions(testContext(t), job.Source)
	if err != nil {
		t.Fatal(err)
	}
	if h.Current != 1 {
		t.Fatalf("current version %d, want exactly one version written", h.Current)
	}
	winner := h.Versions[0].Serial
	certs := issuedSerials(t, srv, pki)
	revoked := 0
	for _, s := range certs {
		if srv.Revoked(t, pki.Mount, s) {
			revoked++
			if s == winner {
				t.Errorf("the winner's serial %s is revoked", s)
			}
		}
	}
	if len(certs) != 2 || revoked != 1 {
		t.Errorf("%d certificates issued, %d revoked; want 2 and 1", len(certs), revoked)
	}
	for i, out := range outs {
		if len(out) != 1 || out[0].Error != nil || out[0].Certificate.SourceVersion != 1 {
			t.Errorf("rotator %d: %+v, want version 1 rolled out", i, out)
		}
	}
	// Both uploaded or one found it present; either way Graph holds the
	// winner's certificate, which it could decode (so it is 3DES).
	m, err := c.Fetch(testContext(t), job.Source)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(m.PFX, m.Password)
	if err != nil {
		t.Fatal(err)
	}
	if up := g.sim.Uploads(rigTenantID, rigConnector); len(up) == 0 || !strings.EqualFold(up[len(up)-1], b.Thumbprint()) {
		t.Errorf("uploads %v, want the winner's %s", up, b.Thumbprint())
	}
}

// issuedSerials lists the serials the intermediate issued, leaving out
// the CA's own.
func issuedSerials(t *testing.T, srv *vaulttest.Server, pki *vaulttest.PKI) []string {
	t.Helper()
	s, err := srv.Client(t).Logical().ListWithContext(testContext(t), pki.Mount+"/certs")
	if err != nil || s == nil {
		t.Fatalf("listing certificates: %v", err)
	}
	keys, _ := s.Data["keys"].([]any)
	ca := strings.ToLower(serialOf(pki.Intermediate))
	var out []string
	for _, k := range keys {
		// LIST writes serials with hyphens, issue with colons.
		if ks, _ := k.(string); ks != "" && strings.ToLower(strings.ReplaceAll(ks, "-", ":")) != ca {
			out = append(out, strings.ReplaceAll(ks, "-", ":"))
		}
	}
	return out
}

// serialOf writes a certificate's serial as Vault does: hex pairs with colons.
func serialOf(c *x509.Certificate) string {
	h := c.SerialNumber.Text(16)
	if len(h)%2 == 1 {
		h = "0" + h
	}
	parts := make([]string, 0, len(h)/2)
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func testIssueThenRollback(t *testing.T, srv *vaulttest.Server) {
	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-rollback"})
	g := newGraphRig(t)
	job := pkiJob("b2c/rollback", pki)
	c, _ := tokenClient(t, srv, srv.Token)
	// Vault stamps certificates with the real time; the rotator's clock is
	// moved 170h ahead for runs 2 and 3, into the last 33% of the lifetimes.
	var ahead atomic.Int64
	r, err := jobs.New(jobs.Config{Source: c, Connector: g.conn, Issuer: c, Writer: c, Versions: c,
		NowFunc: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var thumbs []string
	for i := range 3 {
		if i == 1 {
			again := r.Rotate(ctx, job, jobs.Request{Job: job.Name})
			if again[0].Status != contract.StatusSkipped || again[0].Certificate.SourceVersion != 1 {
				t.Errorf("a second run before the window: %+v, want a skip of version 1, no issuance", again[0])
			}
			ahead.Store(int64(170 * time.Hour))
		}
		// Each certificate lives 10h longer than the one before, so that it
		// is newer (rule 3) even when issued within the same second.
		job.Source.PKI.TTL = time.Duration(240+10*i) * time.Hour
		out := r.Rotate(ctx, job, jobs.Request{Job: job.Name})
		if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].Certificate.SourceVersion != i+1 {
			t.Fatalf("run %d: %+v, want version %d uploaded", i+1, out, i+1)
		}
		thumbs = append(thumbs, out[0].Certificate.Thumbprint)
	}
	out := r.Rotate(ctx, job, jobs.Request{Job: job.Name, Version: 1, Force: true})
	if out[0].Status != contract.StatusSucceeded || out[0].Reason != contract.ReasonRollback || out[0].Certificate.Thumbprint != thumbs[0] {
		t.Errorf("rollback to version 1: %+v, want succeeded/rollback with %s", out[0], thumbs[0])
	}
	if active := activeThumbprint(g); !strings.EqualFold(active, thumbs[0]) {
		t.Errorf("active %s after the rollback, want version 1's %s", active, thumbs[0])
	}
	if err := srv.Client(t).KVv2("secret").DeleteVersions(ctx, "b2c/rollback", []int{2}); err != nil {
		t.Fatal(err)
	}
	out = r.Rotate(ctx, job, jobs.Request{Job: job.Name, Version: 2, Force: true})
	if out[0].Status != contract.StatusFailed || out[0].Error.Class != jobs.ClassPermanent || !strings.Contains(out[0].Error.Message, "version 2") {
		t.Errorf("rollback to deleted version 2: %+v, want a permanent failure naming it", out[0])
	}
	if active := activeThumbprint(g); !strings.EqualFold(active, thumbs[0]) {
		t.Errorf("a failed rollback changed the active certificate to %s", active)
	}
}

func activeThumbprint(g graphRig) string {
	for _, cs := range g.sim.Certificates(rigTenantID, rigConnector) {
		if cs.IsActive {
			return cs.Thumbprint
		}
	}
	return ""
}
