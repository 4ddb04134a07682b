package connector

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testTenantKey   = "contoso"
	testTenantID    = "8a1c2b3d-0000-4000-8000-00000000c0de"
	testClientID    = "11111111-1111-1111-1111-111111111111"
	testSecret      = "graphsim-s3cret~Zq9.value"
	testConnectorID = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	basicConnector  = "7b3a0c1e-aaaa-bbbb-cccc-000000000002"
	missingConn     = "7b3a0c1e-aaaa-bbbb-cccc-0000000000ff"
	testPassword    = "pfx-pa55word!"
)

// testNow is the fixed clock of the emulator and the client.
var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// seedCert is the certificate the test connector holds before any upload.
var seedCert = graphsim.Cert{
	Thumbprint: "0EB255CC895477798BB3AD4E5A3EE5F2E1ED97AD",
	NotBefore:  testNow.Add(-300 * 24 * time.Hour),
	NotAfter:   testNow.Add(20 * 24 * time.Hour),
}

// newBundle makes a self-signed certificate valid from testNow-1h for 90
// days and encodes it with enc (LegacyDES is what B2C accepts).
func newBundle(t *testing.T, enc *pkcs12.Encoder, password string) testkit.Bundle {
	t.Helper()
	return testkit.NewBundle(t, testkit.BundleSpec{
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(90 * 24 * time.Hour),
		Key: testkit.RSAKey(t, 2048), SelfSigned: true, Encoder: enc, Password: password, EmptyPassword: password == "",
	})
}

// harness is an emulator and a client pointed at it.
type harness struct {
	sim    *graphsim.Server
	client *Client
	waits  *waits
	logs   *testkit.LogBuffer
	tokens *tokenRecorder
}

// setup starts the emulator with one tenant holding a certificate connector
// and a basic-auth one, and a client whose sleeps are recorded, not slept.
func setup(t *testing.T, configure ...func(*Config)) *harness {
	t.Helper()
	sim := graphsim.NewTest(t).
		AddTenant(testTenantID, testClientID, testSecret).
		AddConnector(testTenantID, testConnectorID, "contoso-api", seedCert).
		AddConnector(testTenantID, basicConnector, "basic-api").
		WithClock(func() time.Time { return testNow }).
		Start()
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	h := &harness{sim: sim, waits: &waits{}, logs: &testkit.LogBuffer{}, tokens: &tokenRecorder{next: transport}}
	cfg := Config{
		Tenants: map[string]Tenant{testTenantKey: {
			TenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret,
			AuthorityURL: sim.URL(), GraphURL: sim.URL(),
		}},
		Transport: h.tokens,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NowFunc:   func() time.Time { return testNow },
		SleepFunc: h.waits.sleep,
	}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.client = c
	return h
}

// graphCalls returns the emulator's record of Graph API calls (not token
// or discovery calls).
func (h *harness) graphCalls() []graphsim.Request {
	var out []graphsim.Request
	for _, r := range h.sim.Requests() {
		if strings.HasPrefix(r.Path, "/v1.0/") {
			out = append(out, r)
		}
	}
	return out
}

// tokenCalls counts the token requests the emulator answered.
func (h *harness) tokenCalls() int {
	n := 0
	for _, r := range h.sim.Requests() {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			n++
		}
	}
	return n
}

// waits records what the client would have slept: the kit's Sleeps, in
// this package's spelling.
type waits struct{ testkit.Sleeps }

func (w *waits) sleep(ctx context.Context, d time.Duration) error { return w.Sleep(ctx, d) }

func (w *waits) all() []time.Duration { return w.All() }

// tokenRecorder passes requests to the emulator's transport and remembers
// every bearer token sent, so that tests can look for them in errors and
// logs.
type tokenRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.mu.Lock()
		r.tokens = append(r.tokens, tok)
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *tokenRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}
