package jobs

import (
	"context"
	"crypto"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// testNow is the fixed clock of every test.
var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const (
	testPassword = "pfx-pass-Zq81"
	day          = 24 * time.Hour
)

// serial numbers the certificates the fake CA issues.
var serial atomic.Int64

// bundleSpec describes a PFX to generate; the zero value (plus dates) is a
// valid EC P-256 bundle protected with testPassword.
type bundleSpec struct {
	notBefore, notAfter time.Time
	key                 any  // signer whose public key the certificate holds; testKey by default
	pfxKey              any  // key put into the PFX; key by default
	noKey               bool // trust store only
}

// makeBundle generates the self-signed PFX s describes with the shared
// kit, encoded as the worker re-encodes (pkcs12.Modern).
func makeBundle(t testing.TB, s bundleSpec) testkit.Bundle {
	t.Helper()
	key, _ := s.key.(crypto.Signer)
	if key == nil {
		key = testkit.P256Key(t)
	}
	pfxKey, _ := s.pfxKey.(crypto.Signer)
	return testkit.NewBundle(t, testkit.BundleSpec{
		NotBefore: s.notBefore, NotAfter: s.notAfter, Key: key, PFXKey: pfxKey, NoKey: s.noKey,
		SelfSigned: true, Encoder: pkcs12.Modern, Password: testPassword,
	})
}

// validBundle is valid from a day ago for 90 days.
func validBundle(t testing.TB) testkit.Bundle {
	return makeBundle(t, bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(90 * day)})
}

// materialOf is b as version version of its source.
func materialOf(b testkit.Bundle, version int) Material {
	return Material{PFX: b.PFX, Password: b.Password, Version: version}
}

// fakeSource is a Source made of a func; it counts Fetch calls.
type fakeSource struct {
	FetchFunc func(ctx context.Context, ref SourceRef) (Material, error)
	calls     *atomic.Int32
}

func (f fakeSource) Fetch(ctx context.Context, ref SourceRef) (Material, error) {
	f.calls.Add(1)
	return f.FetchFunc(ctx, ref)
}

func sourceOf(m Material) fakeSource {
	return fakeSource{calls: new(atomic.Int32), FetchFunc: func(context.Context, SourceRef) (Material, error) { return m, nil }}
}

func failingSource(err error) fakeSource {
	return fakeSource{calls: new(atomic.Int32), FetchFunc: func(context.Context, SourceRef) (Material, error) { return Material{}, err }}
}

// fakeConnector is a Connector made of funcs.
type fakeConnector struct {
	GetFunc    func(ctx context.Context, tenant, id string) (ConnectorState, error)
	UploadFunc func(ctx context.Context, tenant, id string, pfx []byte, password string) (ConnectorState, error)
}

func (f fakeConnector) Get(ctx context.Context, tenant, id string) (ConnectorState, error) {
	return f.GetFunc(ctx, tenant, id)
}

func (f fakeConnector) Upload(ctx context.Context, tenant, id string, pfx []byte, password string) (ConnectorState, error) {
	return f.UploadFunc(ctx, tenant, id, pfx, password)
}

// graph models Graph's API connectors: upload appends (a re-upload moves the
// certificate to the end), and the active certificate is the most recently
// uploaded one whose notBefore has passed and that has not expired. It
// records the calls.
type graph struct {
	mu       sync.Mutex
	lists    map[string][]Certificate // connector id -> certificates in upload order
	gets     map[string]int
	uploads  map[string]int
	uploaded [][]byte
}

func newGraph() *graph {
	return &graph{lists: map[string][]Certificate{}, gets: map[string]int{}, uploads: map[string]int{}}
}

// seed adds certificates to a connector as if uploaded in this order.
func (g *graph) seed(id string, certs ...Certificate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lists[id] = append(g.lists[id], certs...)
}

func (g *graph) stateLocked(id string) ConnectorState {
	list := g.lists[id]
	st := ConnectorState{ID: id, AuthType: "clientCertificate", Certificates: make([]Certificate, len(list))}
	active := -1
	for i, c := range list {
		if !c.NotBefore.After(testNow) && c.NotAfter.After(testNow) {
			active = i
		}
	}
	for i, c := range list {
		c.IsActive = i == active
		st.Certificates[i] = c
	}
	return st
}

func (g *graph) state(id string) ConnectorState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stateLocked(id)
}

func (g *graph) get(_ context.Context, _, id string) (ConnectorState, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gets[id]++
	if _, ok := g.lists[id]; !ok {
		return ConnectorState{}, Permanent("Request_ResourceNotFound", fmt.Errorf("connector %s not found", id))
	}
	return g.stateLocked(id), nil
}

func (g *graph) upload(_ context.Context, _, id string, pfx []byte, password string) (ConnectorState, error) {
	_, cert, _, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		return ConnectorState{}, Permanent("AADB2C_InvalidCertificate", errors.New("the certificate could not be read"))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.uploads[id]++
	g.uploaded = append(g.uploaded, pfx)
	tp := testkit.Thumbprint(cert)
	list := g.lists[id][:0:0]
	for _, c := range g.lists[id] {
		if !strings.EqualFold(c.Thumbprint, tp) {
			list = append(list, c)
		}
	}
	g.lists[id] = append(list, Certificate{Thumbprint: tp, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter})
	return g.stateLocked(id), nil
}

func (g *graph) connector() fakeConnector {
	return fakeConnector{GetFunc: g.get, UploadFunc: g.upload}
}

func (g *graph) counts(id string) (gets, uploads int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets[id], g.uploads[id]
}

// fakeWarnings is a Warnings that remembers keys in a map.
type fakeWarnings struct {
	mu   sync.Mutex
	seen map[string]bool
	keys []string
	err  error
}

func (w *fakeWarnings) First(_ context.Context, key string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys = append(w.keys, key)
	if w.err != nil {
		return false, w.err
	}
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	first := !w.seen[key]
	w.seen[key] = true
	return first, nil
}

// cert returns a connector certificate with a made-up thumbprint.
func cert(name string, nb, na time.Time) Certificate {
	sum := sha1.Sum([]byte(name))
	return Certificate{Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])), NotBefore: nb, NotAfter: na}
}

const (
	tenant = "contoso"
	conn1  = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
)

// testJob is an on-change job binding n connectors (conn1 first), with
// reencode off.
func testJob(n int) Job {
	j := Job{
		Name:        "contoso-api",
		Source:      SourceRef{Mount: "secret", Path: "b2c/contoso-api", PFXField: "pfx", PasswordField: "password"},
		Policy:      PolicyOnChange,
		MinValidity: MinValidityDefault,
		WarnBefore:  WarnBeforeDefault(),
		MaxAttempts: MaxAttemptsDefault,
	}
	for i := range n {
		j.Connectors = append(j.Connectors, ConnectorRef{Tenant: tenant, ID: fmt.Sprintf("7b3a0c1e-aaaa-bbbb-cccc-%012d", i+1)})
	}
	return j
}

// newTestRotator builds a Rotator on the fixed clock.
func newTestRotator(t testing.TB, src Source, c Connector, w Warnings) *Rotator {
	t.Helper()
	r, err := New(Config{Source: src, Connector: c, Warnings: w, NowFunc: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}
