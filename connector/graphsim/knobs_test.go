package graphsim_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestFailNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      graphsim.Fault
		status     int
		code       string
		retryAfter string
	}{
		{graphsim.Fault{Status: 429, RetryAfter: "3"}, 429, "TooManyRequests", "3"},
		{graphsim.Fault{Status: 503, RetryAfter: "Wed, 25 Nov 2026 10:00:05 GMT"}, 503, "serviceNotAvailable", "Wed, 25 Nov 2026 10:00:05 GMT"},
		{graphsim.Fault{Status: 409}, 409, "Directory_ConcurrencyViolation", ""},
		{graphsim.Fault{Status: 500, Code: "customCode"}, 500, "customCode", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			s, _ := setup(t)
			s.FailNext(2, tt.fault)
			// Token calls are not Graph calls: they neither fail nor use up the faults.
			token := testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
			for range 2 {
				resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", "")
				testkit.WantGraphError(t, resp, body, tt.status, tt.code)
				if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
				}
			}
			testkit.GetConnector(t, s, token, connID)
			reqs := s.Requests()
			if r := reqs[len(reqs)-2]; r.Status != tt.status || r.TenantID != tenantID {
				t.Errorf("faulted request recorded as %+v", r)
			}
		})
	}
}

func TestFailNextPrecedesAuthentication(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	s.FailNext(1, graphsim.Fault{Status: 503})
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, "", "", "")
	testkit.WantGraphError(t, resp, body, http.StatusServiceUnavailable, "serviceNotAvailable")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC))
	s, token := setup(t, func(s *graphsim.Server) { s.WithClock(clock.Now) })
	s.SetRateLimit(tenantID, 2)
	other := testkit.GraphToken(t, s, otherTenant, otherClient, otherSecret)
	testkit.GetConnector(t, s, token, connID)
	testkit.GetConnector(t, s, token, connID)
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", "")
	e := testkit.WantGraphError(t, resp, body, http.StatusTooManyRequests, "TooManyRequests")
	if got := resp.Header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30 (seconds left in the minute)", got)
	}
	if e.Error.InnerError.Code != "activityLimitReached" {
		t.Errorf("innerError.code = %q", e.Error.InnerError.Code)
	}
	if resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+otherConnID, other, "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the other tenant was throttled: %d %s", resp.StatusCode, body)
	}
	clock.Set(time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC))
	testkit.GetConnector(t, s, token, connID)
	s.SetRateLimit(tenantID, 0)
	for range 3 {
		testkit.GetConnector(t, s, token, connID)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/v1.0/identity/apiConnectors/"+connID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("err = %v, want a deadline exceeded while the server holds the request", err)
	}
	// Token calls are not delayed.
	testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
	s.SetLatency(time.Millisecond)
	testkit.GetConnector(t, s, token, connID)
}

func TestRequestsAreRecordedWithoutSecrets(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	b := newBundle(t, pkcs12.LegacyDES, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v1.0/identity/apiConnectors/"+connID+"/uploadClientCertificate", strings.NewReader(testkit.UploadBody(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("client-request-id", "c1c1c1c1-0000-4000-8000-000000000001")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests, want token + upload: %+v", len(reqs), reqs)
	}
	tok, up := reqs[0], reqs[1]
	if tok.Method != "POST" || tok.Path != "/"+tenantID+"/oauth2/v2.0/token" || tok.TenantID != tenantID || tok.Status != 200 {
		t.Errorf("token request = %+v", tok)
	}
	if up.Path != "/v1.0/identity/apiConnectors/"+connID+"/uploadClientCertificate" || up.TenantID != tenantID ||
		up.Status != 200 || up.Thumbprint != b.Thumbprint || up.ClientRequestID != "c1c1c1c1-0000-4000-8000-000000000001" {
		t.Errorf("upload request = %+v", up)
	}
	if up.Header.Get("Authorization") != "" || up.Header.Get("Content-Type") != "application/json" {
		t.Errorf("upload headers = %v", up.Header)
	}
	dump := fmt.Sprintf("%+v", reqs)
	testkit.NoSecrets(t, "Requests()", []byte(dump), clientSecret, token, b.Password, base64.StdEncoding.EncodeToString(b.PFX))
}

func TestSetupPanicsAfterStart(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	defer func() {
		if recover() == nil {
			t.Error("AddTenant after Start did not panic")
		}
	}()
	s.AddTenant("late", "late", "late")
}

func TestStartOn(t *testing.T) {
	t.Parallel()
	s := graphsim.New().AddTenant(tenantID, clientID, clientSecret).AddConnector(tenantID, connID, "demo")
	defer s.Close()
	if err := s.StartOn("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	block, _ := pem.Decode(s.CACertPEM())
	if block == nil {
		t.Fatal("CACertPEM holds no PEM block")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA: %v, %v", ca, err)
	}
	token := testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
	if c := testkit.GetConnector(t, s, token, connID); c.DisplayName != "demo" {
		t.Errorf("displayName = %q", c.DisplayName)
	}
}

func TestIssuedTokens(t *testing.T) {
	t.Parallel()
	s, first := setup(t)
	second := testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
	got := s.IssuedTokens()
	if len(got) != 2 || !slices.Contains(got, first) || !slices.Contains(got, second) {
		t.Fatalf("IssuedTokens() has %d tokens, want exactly the two issued", len(got))
	}
}

func TestForgetRequests(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	testkit.GetConnector(t, s, token, connID)
	if len(s.Requests()) == 0 {
		t.Fatal("no request recorded before ForgetRequests")
	}
	s.ForgetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests recorded after ForgetRequests", n)
	}
	testkit.GetConnector(t, s, token, connID)
	if n := len(s.Requests()); n != 1 {
		t.Fatalf("%d requests recorded after one more call, want 1", n)
	}
}
