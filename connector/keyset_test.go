package connector

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

const testKeySet = "B2C_1A_RestApiClientCertificate"

// keySetHarness is an emulator with one key container (holding seed) and
// a client pointed at it.
func keySetHarness(t *testing.T, seed ...graphsim.Key) (*graphsim.Server, *Client, *testkit.LogBuffer) {
	t.Helper()
	sim := graphsim.NewTest(t).
		AddTenant(testTenantID, testClientID, testSecret).
		AddKeySet(testTenantID, testKeySet, seed...).
		AddKeySet(testTenantID, "B2C_1A_TokenSigningKeyContainer").
		AddKeySet(testTenantID, "B2C_1A_TokenEncryptionKeyContainer").
		WithClock(func() time.Time { return testNow }).
		Start()
	sim.SetPageSize(2)
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	logs := &testkit.LogBuffer{}
	c, err := New(Config{
		Tenants: map[string]Tenant{testTenantKey: {
			TenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret,
			AuthorityURL: sim.URL(), GraphURL: sim.URL(),
		}},
		Transport: transport,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NowFunc:   func() time.Time { return testNow },
		SleepFunc: (&waits{}).sleep,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return sim, c, logs
}

func TestKeySetClient(t *testing.T) {
	t.Parallel()
	old := graphsim.Key{Kid: "old", NotBefore: testNow.Add(-100 * 24 * time.Hour), NotAfter: testNow.Add(10 * 24 * time.Hour)}
	sim, c, logs := keySetHarness(t, old)
	ctx := t.Context()
	sim.FailNext(1, graphsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	st, err := c.GetKeySet(ctx, testTenantKey, testKeySet)
	if err != nil || st.ID != testKeySet || len(st.Keys) != 1 || st.Keys[0].Kid != "old" || !st.Keys[0].NotAfter.Equal(old.NotAfter) {
		t.Fatalf("GetKeySet after a 429: %+v, %v", st, err)
	}
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	k, err := c.UploadKey(ctx, testTenantKey, testKeySet, b.PFX, b.Password)
	if err != nil {
		t.Fatalf("UploadKey: %v", err)
	}
	if k.Thumbprint() != b.Thumbprint || !k.NotBefore.Equal(b.NotBefore.Truncate(time.Second)) {
		t.Errorf("uploaded key %+v (thumbprint %s), want %s", k, k.Thumbprint(), b.Thumbprint)
	}
	active, ok, err := c.ActiveKey(ctx, testTenantKey, testKeySet)
	if err != nil || !ok || active.Kid != k.Kid {
		t.Errorf("ActiveKey = %+v, %v, %v; want the uploaded key %s (latest nbf)", active, ok, err, k.Kid)
	}
	all, err := c.ListKeySets(ctx, testTenantKey)
	if err != nil || len(all) != 3 || all[0].ID != testKeySet || len(all[0].Keys) != 2 {
		t.Errorf("ListKeySets over pages of 2: %+v, %v", all, err)
	}
	for _, sec := range []string{testPassword, testSecret} {
		if strings.Contains(logs.String(), sec) {
			t.Errorf("a secret reached the log")
		}
	}
	for _, r := range sim.Requests() {
		if strings.Contains(r.Path, "/trustFramework/") && !strings.HasPrefix(r.Path, "/beta/trustFramework/keySets") {
			t.Errorf("request off the beta path: %s", r.Path)
		}
	}
}

func TestKeySetClientErrors(t *testing.T) {
	t.Parallel()
	sim, c, _ := keySetHarness(t)
	ctx := t.Context()
	_, err := c.GetKeySet(ctx, testTenantKey, "B2C_1A_Missing")
	if f := jobs.AsFailure(err); !errors.Is(err, ErrNotFound) || f.Class != jobs.ClassPermanent {
		t.Errorf("missing container: %v (class %s), want permanent ErrNotFound", err, f.Class)
	}
	if _, ok, err := c.ActiveKey(ctx, testTenantKey, testKeySet); ok || err != nil {
		t.Errorf("empty container: ActiveKey ok=%v err=%v, want no key and no error", ok, err)
	}
	if _, err := c.GetKeySet(ctx, testTenantKey, "RestApiClientCertificate"); jobs.AsFailure(err).Code != CodeInvalidKeySetID {
		t.Errorf("id without B2C_1A_: %v", err)
	}
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	_, err = c.UploadKey(ctx, testTenantKey, testKeySet, b.PFX, "wrong-password")
	if f := jobs.AsFailure(err); f.Code != "AADB2C90213" || f.Class != jobs.ClassPermanent || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("wrong password: %v (code %s class %s)", err, f.Code, f.Class)
	}
	sim.DenyKeySets(testTenantID, testClientID, true)
	_, err = c.GetKeySet(ctx, testTenantKey, testKeySet)
	if f := jobs.AsFailure(err); !errors.Is(err, ErrDenied) || f.Class != jobs.ClassPermanent {
		t.Errorf("denied: %v (class %s), want permanent ErrDenied", err, f.Class)
	}
}

// TestAnnounceKeySetsSaysBeta: the start-up line names Graph beta and the path.
func TestAnnounceKeySetsSaysBeta(t *testing.T) {
	t.Parallel()
	_, c, logs := keySetHarness(t)
	c.AnnounceKeySets()
	if out := logs.String(); !strings.Contains(out, "Graph beta") || !strings.Contains(out, "/beta/trustFramework/keySets") {
		t.Errorf("start-up line lacks the beta notice: %s", out)
	}
}
