package jobs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// fakeCA issues EC P-256 leaves from an in-memory CA and records revocations.
type fakeCA struct {
	t        *testing.T
	key      *ecdsa.PrivateKey
	cert     *x509.Certificate
	mu       sync.Mutex
	issued   []Issued
	revoked  []string
	lifetime time.Duration
}

func newFakeCA(t testing.TB) *fakeCA {
	t.Helper()
	key := testkit.ECKey(t)
	c := testkit.NewCert(t, testkit.CertSpec{CN: "Test Issuing CA", Key: key, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(3650 * day)}).Cert
	return &fakeCA{key: key, cert: c, lifetime: 90 * day}
}

func (ca *fakeCA) Issue(_ context.Context, ref PKIRef) (Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Issued{}, err
	}
	sn := big.NewInt(serial.Add(1))
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: ref.CommonName}, DNSNames: ref.AltNames,
		NotBefore: testNow.Add(-time.Minute), NotAfter: testNow.Add(ca.lifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return Issued{}, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Issued{}, err
	}
	iss := Issued{
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		ChainPEM:       []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))},
		PrivateKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		Serial:         fmt.Sprintf("%x", sn),
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.issued = append(ca.issued, iss)
	return iss, nil
}

func (ca *fakeCA) Revoke(_ context.Context, _ string, iss Issued) error {
	serial := iss.Serial
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.revoked = append(ca.revoked, serial)
	return nil
}

func (ca *fakeCA) counts() (issued, revoked int) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return len(ca.issued), len(ca.revoked)
}

// fakeKV is a KV v2 path in memory with check-and-set; it is a Source, a
// Writer and a VersionLister. beforeWrite, when set, runs inside Write
// before the check (to let a rival write win the race).
type fakeKV struct {
	mu          sync.Mutex
	versions    []NewVersion // versions[i] is version i+1
	deleted     map[int]bool
	casSeen     []int
	fetched     []int    // the Version of every Fetch's ref
	handed      [][]byte // the PFX slices Write was handed, as handed
	beforeWrite func()
	// answerLost, when set, turns a Write's answer into this error after
	// the write was applied (or, with notApplied, instead of applying it).
	answerLost  error
	notApplied  bool
	versionsErr error // returned by Versions when set
}

func (kv *fakeKV) put(v NewVersion) int {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.versions = append(kv.versions, v)
	return len(kv.versions)
}

func (kv *fakeKV) Fetch(_ context.Context, ref SourceRef) (Material, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.fetched = append(kv.fetched, ref.Version)
	n := ref.Version
	if n == 0 {
		n = len(kv.versions)
	}
	if n == 0 || n > len(kv.versions) || kv.deleted[n] {
		return Material{}, Permanent("source_not_found", fmt.Errorf("version %d not found", n))
	}
	m := kv.versions[n-1].Material
	m.Version = n
	return m, nil
}

func (kv *fakeKV) Write(_ context.Context, _ SourceRef, cas int, v NewVersion) (int, error) {
	if kv.beforeWrite != nil {
		kv.beforeWrite()
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.casSeen = append(kv.casSeen, cas)
	if cas != len(kv.versions) {
		return 0, Transient("source_conflict", fmt.Errorf("cas %d, current %d: %w", cas, len(kv.versions), ErrWriteConflict))
	}
	kv.handed = append(kv.handed, v.PFX)
	if lost := kv.answerLost; lost != nil {
		kv.answerLost = nil
		if kv.notApplied {
			return 0, lost
		}
		v.PFX = bytes.Clone(v.PFX)
		kv.versions = append(kv.versions, v)
		return 0, lost
	}
	v.PFX = bytes.Clone(v.PFX) // as Vault does: the caller clears its copy
	kv.versions = append(kv.versions, v)
	return len(kv.versions), nil
}

func (kv *fakeKV) Versions(context.Context, SourceRef) (History, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.versionsErr != nil && len(kv.casSeen) > 0 {
		return History{}, kv.versionsErr
	}
	h := History{Current: len(kv.versions)}
	for n := len(kv.versions); n >= 1; n-- {
		vi := VersionInfo{Version: n, Serial: kv.versions[n-1].Serial}
		if kv.deleted[n] {
			vi.Deleted = testNow
		}
		h.Versions = append(h.Versions, vi)
	}
	return h, nil
}

// pkiJob is testJob(1) issuing from a PKI role.
func pkiJob() Job {
	j := testJob(1)
	j.Source.PKI = &PKIRef{Mount: "pki", Role: "b2c-api", CommonName: "api.contoso.example", TTL: 90 * day}
	j.Reencode = true
	return j
}

// issueSetup wires a Rotator to a fakeKV, a fakeCA and a graph holding the
// job's connectors, logging to logs.
func issueSetup(t *testing.T, job Job) (*Rotator, *fakeKV, *fakeCA, *graph, *bytes.Buffer) {
	t.Helper()
	kv, ca, g := &fakeKV{deleted: map[int]bool{}}, newFakeCA(t), newGraph()
	for _, c := range job.Connectors {
		g.seed(c.ID)
	}
	logs := &bytes.Buffer{}
	r, err := New(Config{Source: kv, Connector: g.connector(), Issuer: ca, Writer: kv, Versions: kv,
		NowFunc: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r, kv, ca, g, logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// storedBundle returns an operator-written version valid from nb to na.
func storedBundle(t *testing.T, nb, na time.Time) NewVersion {
	b := makeBundle(t, bundleSpec{notBefore: nb, notAfter: na})
	return NewVersion{Material: Material{PFX: b.PFX, Password: b.Password}}
}

func TestIssueWhenMissing(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, g, logs := issueSetup(t, job)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, ID: "r1"})
	if len(out) != 1 || out[0].Status != contract.StatusSucceeded {
		t.Fatalf("outcomes = %+v, want one success", out)
	}
	if issued, revoked := ca.counts(); issued != 1 || revoked != 0 {
		t.Errorf("issued %d, revoked %d; want 1, 0", issued, revoked)
	}
	if len(kv.casSeen) != 1 || kv.casSeen[0] != 0 {
		t.Errorf("writes with cas %v, want one with cas 0 (must not exist)", kv.casSeen)
	}
	v := kv.versions[0]
	b, err := bundle.Decode(v.PFX, v.Password)
	if err != nil {
		t.Fatalf("decoding the written bundle: %v", err)
	}
	if got := out[0].Certificate; got.SourceVersion != 1 || got.Thumbprint != b.Thumbprint() {
		t.Errorf("rolled out %+v, want version 1 with thumbprint %s", got, b.Thumbprint())
	}
	if len(b.Chain) != 1 || b.Chain[0].Subject.CommonName != "Test Issuing CA" || v.Issuer != b.Leaf.Issuer.String() {
		t.Errorf("chain %d certificates, issuer %q; want the CA", len(b.Chain), v.Issuer)
	}
	if v.Serial != ca.issued[0].Serial || !v.NotAfter.Equal(b.Leaf.NotAfter) {
		t.Errorf("metadata serial %s not_after %s, want %s %s", v.Serial, v.NotAfter, ca.issued[0].Serial, b.Leaf.NotAfter)
	}
	if h := kv.handed[0]; len(h) == 0 || !bytes.Equal(h, make([]byte, len(h))) {
		t.Errorf("the PFX handed to Write was not cleared after the write")
	}
	if len(v.Password) != 32 {
		t.Errorf("password of %d characters, want 32", len(v.Password))
	}
	if _, uploads := g.counts(conn1); uploads != 1 {
		t.Errorf("%d uploads, want 1", uploads)
	}
	keyPEM := ca.issued[0].PrivateKeyPEM
	keyBody := strings.Split(keyPEM, "\n")[1]
	if l := logs.String(); strings.Contains(l, keyBody) || strings.Contains(l, v.Password) || !strings.Contains(l, ca.issued[0].Serial) {
		t.Errorf("logs hold a secret or lack the serial:\n%s", l)
	}
}

func TestIssueRandomPasswords(t *testing.T) {
	t.Parallel()
	ca := newFakeCA(t)
	seen := map[string]bool{}
	for range 3 {
		iss, err := ca.Issue(t.Context(), PKIRef{CommonName: "a.example"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := buildVersion(iss, PKIRef{KeyType: "ec", KeyBits: 256})
		if err != nil {
			t.Fatalf("buildVersion: %v", err)
		}
		if seen[v.Password] {
			t.Errorf("password drawn twice")
		}
		seen[v.Password] = true
	}
}

func TestIssueDue(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		nb, na      time.Time
		renewBefore RenewBefore
		deleted     bool
		want        string
	}{
		"fresh, default 720h window":   {nb: testNow.Add(-day), na: testNow.Add(90 * day), want: ""},
		"within 720h":                  {nb: testNow.Add(-80 * day), na: testNow.Add(20 * day), want: DueRenewWindow},
		"33% of 90 days, 31 days left": {nb: testNow.Add(-59 * day), na: testNow.Add(31 * day), renewBefore: RenewBefore{Fraction: 0.33}, want: ""},
		"33% of 90 days, 29 days left": {nb: testNow.Add(-61 * day), na: testNow.Add(29 * day), renewBefore: RenewBefore{Fraction: 0.33}, want: DueRenewWindow},
		"under min_validity":           {nb: testNow.Add(-day), na: testNow.Add(5 * day), renewBefore: RenewBefore{Duration: time.Hour}, want: DueRenewWindow},
		"current version deleted":      {nb: testNow.Add(-day), na: testNow.Add(90 * day), deleted: true, want: DueGone},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			job := pkiJob()
			job.RenewBefore = tc.renewBefore
			r, kv, ca, _, _ := issueSetup(t, job)
			n := kv.put(storedBundle(t, tc.nb, tc.na))
			kv.deleted[n] = tc.deleted
			res, err := r.ensureIssued(t.Context(), job, Request{}, false)
			if err != nil {
				t.Fatalf("ensureIssued: %v", err)
			}
			issued, _ := ca.counts()
			if res.Reason != tc.want || (issued == 1) != (tc.want != "") {
				t.Errorf("reason %q with %d issued, want %q", res.Reason, issued, tc.want)
			}
			if tc.want != "" && (len(kv.casSeen) != 1 || kv.casSeen[0] != n || res.Version != n+1) {
				t.Errorf("cas %v, version %d; want cas %d, version %d", kv.casSeen, res.Version, n, n+1)
			}
		})
	}
}

func TestIssueLostRaceRevokes(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, g, _ := issueSetup(t, job)
	winner := storedBundle(t, testNow.Add(-time.Hour), testNow.Add(60*day))
	kv.beforeWrite = func() { kv.beforeWrite = nil; kv.put(winner) } // a rival replica writes version 1 first
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	issued, revoked := ca.counts()
	if issued != 1 || revoked != 1 || ca.revoked[0] != ca.issued[0].Serial {
		t.Fatalf("issued %d, revoked %v; want our one serial revoked", issued, ca.revoked)
	}
	if len(kv.versions) != 1 {
		t.Errorf("%d versions, want only the winner's", len(kv.versions))
	}
	wb, _ := bundle.Decode(winner.PFX, winner.Password)
	if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].Certificate.Thumbprint != wb.Thumbprint() {
		t.Errorf("outcomes %+v, want the winner's certificate uploaded", out)
	}
	if _, uploads := g.counts(conn1); uploads != 1 {
		t.Errorf("%d uploads, want 1", uploads)
	}
}

func TestIssueKeyTypeMismatchRevokes(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	job.Source.PKI.KeyType, job.Source.PKI.KeyBits = "rsa", 2048 // the fake CA issues EC P-256
	r, kv, ca, g, _ := issueSetup(t, job)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if len(out) != 1 || out[0].Error == nil || out[0].Error.Code != CodeIssuedInvalid || out[0].Error.Class != ClassPermanent {
		t.Fatalf("outcomes %+v, want a permanent %s", out, CodeIssuedInvalid)
	}
	if !strings.Contains(out[0].Error.Message, "ec-p256") || !strings.Contains(out[0].Error.Message, "rsa-2048") {
		t.Errorf("message %q does not name both key types", out[0].Error.Message)
	}
	if _, revoked := ca.counts(); revoked != 1 || len(kv.versions) != 0 {
		t.Errorf("revoked %d, %d versions written; want 1 and 0", revoked, len(kv.versions))
	}
	if _, uploads := g.counts(conn1); uploads != 0 {
		t.Errorf("%d uploads, want none", uploads)
	}
}

func TestPlanSaysWouldIssue(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, g, _ := issueSetup(t, job)
	ds := r.Plan(t.Context(), job, Request{Job: job.Name})
	if len(ds) != 1 || ds[0].Action != ActionIssue || ds[0].Reason != DueMissing || ds[0].Error != nil {
		t.Fatalf("decisions %+v, want issue/missing", ds)
	}
	issued, _ := ca.counts()
	if gets, uploads := g.counts(conn1); issued != 0 || len(kv.versions) != 0 || gets+uploads != 0 {
		t.Errorf("plan issued %d, wrote %d versions, made %d Graph calls; want nothing", issued, len(kv.versions), gets+uploads)
	}
}

func TestNoIssueWithoutIssuer(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, _, _ := setup(t, job, validBundle(t), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if len(out) != 1 || out[0].Error == nil || out[0].Error.Code != CodeIssuerMissing {
		t.Fatalf("outcomes %+v, want %s", out, CodeIssuerMissing)
	}
}

func TestPinnedVersionIsRollback(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, g, _ := issueSetup(t, job)
	v1 := storedBundle(t, testNow.Add(-2*day), testNow.Add(80*day))
	kv.put(v1)
	kv.put(storedBundle(t, testNow.Add(-day), testNow.Add(90*day)))
	if out := r.Rotate(t.Context(), job, Request{Job: job.Name}); out[0].Status != contract.StatusSucceeded || out[0].Reason != "" {
		t.Fatalf("latest: %+v", out[0])
	}
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, Version: 1, Force: true})
	b1, _ := bundle.Decode(v1.PFX, v1.Password)
	if out[0].Status != contract.StatusSucceeded || out[0].Reason != contract.ReasonRollback || out[0].Certificate.SourceVersion != 1 ||
		out[0].Certificate.Thumbprint != b1.Thumbprint() {
		t.Errorf("pinned forced run: %+v, want a rollback to version 1", out[0])
	}
	if a, _ := g.state(conn1).Active(); !strings.EqualFold(a.Thumbprint, b1.Thumbprint()) {
		t.Errorf("active %s, want version 1's %s", a.Thumbprint, b1.Thumbprint())
	}
	if issued, _ := ca.counts(); issued != 0 {
		t.Errorf("issued %d; a pinned request never issues", issued)
	}
	if last := kv.fetched[len(kv.fetched)-1]; last != 1 {
		t.Errorf("last fetch of version %d, want 1", last)
	}
	kv.deleted[1] = true
	out = r.Rotate(t.Context(), job, Request{Job: job.Name, Version: 1, Force: true})
	if out[0].Error == nil || out[0].Error.Class != ClassPermanent {
		t.Errorf("pinned deleted version: %+v, want a permanent failure", out[0])
	}
	out = r.Rotate(t.Context(), job, Request{Job: job.Name, Version: -1})
	if out[0].Error == nil || out[0].Error.Code != contract.CodeBadRequest {
		t.Errorf("negative version: %+v, want bad_request", out[0])
	}
}

func TestPinnedWithoutForceIsNoRollback(t *testing.T) {
	t.Parallel()
	job := pkiJob()
	r, kv, ca, _, _ := issueSetup(t, job)
	kv.put(storedBundle(t, testNow.Add(-day), testNow.Add(90*day)))
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, Version: 1, Trigger: contract.TriggerEvent})
	if out[0].Status != contract.StatusSucceeded || out[0].Reason != "" {
		t.Errorf("pinned, not forced: %+v, want a plain success", out[0])
	}
	ds := r.Plan(t.Context(), job, Request{Job: job.Name})
	if len(ds) != 1 || ds[0].Action != ActionSkip || ds[0].Reason != contract.ReasonAlreadyPresent {
		t.Errorf("plan of a current, uploaded bundle: %+v, want skip already_present", ds)
	}
	if issued, _ := ca.counts(); issued != 0 {
		t.Errorf("issued %d, want none", issued)
	}
}
