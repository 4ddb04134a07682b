package probe_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/probe"
	"github.com/certrotator/certrotator/probe/probetest"
)

// kitBundle is a bundle signed by the test kit's CA, with the CA as chain.
func kitBundle(t *testing.T) *bundle.Bundle {
	t.Helper()
	b := testkit.ValidFor(t, time.Now(), 90*24*time.Hour)
	return &bundle.Bundle{Leaf: b.Leaf, Key: b.Key, Chain: []*x509.Certificate{testkit.CA(t).Cert}}
}

// selfSigned is a bundle no CA vouches for.
func selfSigned(t *testing.T) *bundle.Bundle {
	t.Helper()
	now := time.Now()
	b := testkit.NewBundle(t, testkit.BundleSpec{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour), SelfSigned: true})
	return &bundle.Bundle{Leaf: b.Leaf, Key: b.Key}
}

func verdict(t *testing.T, api *probetest.API, spec jobs.ProbeSpec, b *bundle.Bundle) jobs.ProbeVerdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &probe.Prober{RootCAs: api.RootCAs()}
	return jobs.RunProbe(ctx, p, spec, jobs.ConnectorState{ID: "c1", TargetURL: api.URL()}, b)
}

func wantCode(t *testing.T, v jobs.ProbeVerdict, code string) {
	t.Helper()
	if code == "" {
		if v.Err != nil {
			t.Fatalf("verdict: %v, want accepted", v.Err)
		}
		return
	}
	f := jobs.AsFailure(v.Err)
	if f == nil || f.Code != code || f.Class != jobs.ClassTransient {
		t.Fatalf("verdict error %v (%+v), want transient %s", v.Err, f, code)
	}
}

func TestProbeMutualTLSAgainstCA(t *testing.T) {
	t.Parallel()
	api := probetest.VerifyingCA(t, testkit.CA(t).Cert)

	v := verdict(t, api, jobs.ProbeSpec{}, kitBundle(t))
	wantCode(t, v, "")
	if v.Answer.Status != http.StatusOK || v.Unauthenticated {
		t.Errorf("answer %+v unauthenticated %v, want 200 and a certificate needed", v.Answer, v.Unauthenticated)
	}

	v = verdict(t, api, jobs.ProbeSpec{}, selfSigned(t))
	wantCode(t, v, jobs.CodeAPIRejectsCertificate)
	if v.Answer.Alert == "" || v.Answer.Status != 0 {
		t.Errorf("answer %+v, want a TLS alert and no status", v.Answer)
	}
	if !strings.Contains(v.Err.Error(), "TLS alert "+v.Answer.Alert) {
		t.Errorf("error %q does not name the alert %q", v.Err, v.Answer.Alert)
	}
	if got := api.Calls(); got != 1 {
		t.Errorf("the handler saw %d calls, want 1 (the accepted one)", got)
	}
}

// TestProbeRefusedUntilPinned: an API that trusts only the thumbprints it
// pins (itself, or behind App Service's forwarded certificate) refuses the
// bundle with a 403 until its thumbprint is pinned, then takes it.
func TestProbeRefusedUntilPinned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		api         func(testing.TB) *probetest.API
		wantExcerpt string // of the 403's body
		wantAuthed  bool   // after the pin: the API refuses a call without a certificate
	}{
		{"pinned thumbprint", probetest.Pinning, "not trusted", false},
		{"App Service forwarded certificate", probetest.AppService, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := tc.api(t)
			b := kitBundle(t)
			v := verdict(t, api, jobs.ProbeSpec{}, b)
			wantCode(t, v, jobs.CodeAPIRejectsCertificate)
			if v.Answer.Status != http.StatusForbidden || !strings.Contains(v.Answer.Excerpt, tc.wantExcerpt) {
				t.Errorf("answer %+v, want 403 with %q in the body's start", v.Answer, tc.wantExcerpt)
			}
			api.Pin(b.Thumbprint())
			v = verdict(t, api, jobs.ProbeSpec{}, b)
			wantCode(t, v, "")
			if tc.wantAuthed && v.Unauthenticated {
				t.Error("the backend answers 403 without a forwarded certificate, yet the probe says unauthenticated")
			}
		})
	}
}

func TestProbeNoCertificateNeeded(t *testing.T) {
	t.Parallel()
	api := probetest.Open(t)
	v := verdict(t, api, jobs.ProbeSpec{}, kitBundle(t))
	wantCode(t, v, "")
	if !v.Unauthenticated {
		t.Error("an API that needs no certificate was not reported unauthenticated")
	}
	if got := api.Calls(); got != 2 {
		t.Errorf("the API saw %d calls, want 2 (with and without a certificate)", got)
	}
}

// TestProbeURLKeyNeverShown: a targetUrl's query may hold a key (Azure
// Functions' ?code=); the API gets it, the outcome never shows it.
func TestProbeURLKeyNeverShown(t *testing.T) {
	t.Parallel()
	const key = "s3cr3t-function-key"
	api := probetest.Pinning(t)
	p := &probe.Prober{RootCAs: api.RootCAs()}
	v := jobs.RunProbe(context.Background(), p, jobs.ProbeSpec{}, jobs.ConnectorState{ID: "c1", TargetURL: api.URL() + "?code=" + key}, kitBundle(t))
	wantCode(t, v, jobs.CodeAPIRejectsCertificate)
	if strings.Contains(v.Err.Error(), key) || strings.Contains(v.URL, key) || !strings.Contains(v.Err.Error(), api.URL()) {
		t.Errorf("verdict shows %q / %q: want the URL without its query", v.URL, v.Err)
	}
	_, err := p.Probe(context.Background(), jobs.ProbeCall{URL: "http://api.example/x?code=" + key})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("refusal %v shows the key", err)
	}
}

func TestProbeAcceptStatusIsExact(t *testing.T) {
	t.Parallel()
	api := probetest.Open(t)
	wantCode(t, verdict(t, api, jobs.ProbeSpec{AcceptStatus: []int{400}}, kitBundle(t)), jobs.CodeAPIRejectsCertificate)
	wantCode(t, verdict(t, api, jobs.ProbeSpec{AcceptStatus: []int{400, 200}}, kitBundle(t)), "")
}

func TestProbeSendsMethodBodyAndContentType(t *testing.T) {
	t.Parallel()
	type seen struct{ method, ctype, body string }
	got := make(chan seen, 2)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1024))
		got <- seen{r.Method, r.Header.Get("Content-Type"), string(body)}
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	p := &probe.Prober{RootCAs: pool}
	for _, tc := range []struct {
		spec jobs.ProbeSpec
		want seen
	}{
		{jobs.ProbeSpec{}, seen{"POST", "application/json", "{}"}},
		{jobs.ProbeSpec{Method: "PUT", Body: `{"step":"probe"}`}, seen{"PUT", "application/json", `{"step":"probe"}`}},
	} {
		if _, err := p.Probe(context.Background(), jobs.ProbeCall{URL: srv.URL, Spec: tc.spec}); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s := <-got; s != tc.want {
			t.Errorf("spec %+v: server saw %+v, want %+v", tc.spec, s, tc.want)
		}
	}
}

func TestProbeUntrustedServerIsNoVerdict(t *testing.T) {
	t.Parallel()
	api := probetest.Open(t)
	// The system roots do not hold httptest's certificate.
	v := jobs.RunProbe(context.Background(), &probe.Prober{}, jobs.ProbeSpec{}, jobs.ConnectorState{ID: "c1", TargetURL: api.URL()}, kitBundle(t))
	wantCode(t, v, jobs.CodeProbeFailed)
	if v.Unauthenticated {
		t.Error("no verdict, yet unauthenticated")
	}
}

func TestProbeRefusesPlainHTTP(t *testing.T) {
	t.Parallel()
	_, err := (&probe.Prober{}).Probe(context.Background(), jobs.ProbeCall{URL: "http://api.example/x"})
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("err = %v, want a refusal of http://", err)
	}
}

func TestExcerptIsBoundedAndEscaped(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 500)
	if got := probe.Excerpt([]byte(long)); len(got) > probe.ExcerptMax+10 || !strings.HasSuffix(got, "…") {
		t.Errorf("excerpt of 500 bytes: %q", got)
	}
	if got := probe.Excerpt([]byte("<b>\x1b[31mred\nline")); strings.ContainsAny(got, "\x1b\n") {
		t.Errorf("excerpt %q holds control characters", got)
	}
}

// TestProbeTimeoutIsNoVerdict: an API that does not answer within the
// job's timeout gives no verdict (probe_failed), and the call is cut.
func TestProbeTimeoutIsNoVerdict(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	v := jobs.RunProbe(context.Background(), &probe.Prober{RootCAs: pool}, jobs.ProbeSpec{Timeout: 50 * time.Millisecond},
		jobs.ConnectorState{ID: "c1", TargetURL: srv.URL}, kitBundle(t))
	wantCode(t, v, jobs.CodeProbeFailed)
	if !strings.Contains(v.Err.Error(), "deadline exceeded") {
		t.Errorf("error %q does not say the call timed out", v.Err)
	}
}
