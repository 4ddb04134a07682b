package connector

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/jobs"
)

func TestGet(t *testing.T) {
	t.Parallel()
	h := setup(t)
	st, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if st.ID != testConnectorID || st.DisplayName != "contoso-api" || st.AuthType != AuthTypeClientCertificate {
		t.Errorf("Get = %+v, want id %s, name contoso-api, clientCertificate", st, testConnectorID)
	}
	active, ok := st.Active()
	if len(st.Certificates) != 1 || !ok || active.Thumbprint != seedCert.Thumbprint ||
		!active.NotBefore.Equal(seedCert.NotBefore) || !active.NotAfter.Equal(seedCert.NotAfter) {
		t.Errorf("Certificates = %+v, want the active seed %+v", st.Certificates, seedCert)
	}
	calls := h.graphCalls()
	if len(calls) != 1 {
		t.Fatalf("graph calls = %d, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != "GET" || c.Path != "/v1.0/identity/apiConnectors/"+testConnectorID || c.Status != 200 {
		t.Errorf("request = %s %s → %d, want GET /v1.0/identity/apiConnectors/%s → 200", c.Method, c.Path, c.Status, testConnectorID)
	}
	if _, err := uuid.Parse(c.ClientRequestID); err != nil {
		t.Errorf("client-request-id %q is not a UUID", c.ClientRequestID)
	}
	if !strings.Contains(h.logs.String(), "client_request_id="+c.ClientRequestID) {
		t.Errorf("log does not name client-request-id %s:\n%s", c.ClientRequestID, h.logs)
	}
}

func TestGetBasic(t *testing.T) {
	t.Parallel()
	h := setup(t)
	st, err := h.client.Get(t.Context(), testTenantKey, basicConnector)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if st.AuthType != AuthTypeBasic || len(st.Certificates) != 0 {
		t.Errorf("Get = %+v, want basic with no certificates", st)
	}
}

func TestUpload(t *testing.T) {
	t.Parallel()
	for _, password := range []string{testPassword, ""} {
		t.Run("password "+strings.Repeat("*", len(password)), func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			b := newBundle(t, pkcs12.LegacyDES, password)
			st, err := h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password)
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			got, ok := st.Has(b.Thumbprint)
			if !ok || !got.IsActive || !got.NotAfter.Equal(b.NotAfter.Truncate(time.Second)) {
				t.Errorf("Upload answered %+v, want %s active until %s", st.Certificates, b.Thumbprint, b.NotAfter)
			}
			if old, ok := st.Has(seedCert.Thumbprint); !ok || old.IsActive || len(st.Certificates) != 2 {
				t.Errorf("Upload answered %+v, want the seed kept inactive next to the new one", st.Certificates)
			}
			if up := h.sim.Uploads(testTenantID, testConnectorID); len(up) != 1 || up[0] != b.Thumbprint {
				t.Errorf("emulator uploads = %v, want [%s]", up, b.Thumbprint)
			}
			calls := h.graphCalls()
			if len(calls) != 1 {
				t.Fatalf("graph calls = %d, want 1 (no read before or after)", len(calls))
			}
			c := calls[0]
			wantPath := "/v1.0/identity/apiConnectors/" + testConnectorID + "/uploadClientCertificate"
			if c.Method != "POST" || c.Path != wantPath || c.Thumbprint != b.Thumbprint {
				t.Errorf("request = %s %s (%s), want POST %s (%s)", c.Method, c.Path, c.Thumbprint, wantPath, b.Thumbprint)
			}
			if ct := c.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestPermanentFailures(t *testing.T) {
	t.Parallel()
	aes := newBundle(t, pkcs12.Modern2023, testPassword)
	legacy := newBundle(t, pkcs12.LegacyDES, testPassword)
	tests := []struct {
		name     string
		call     func(h *harness) error
		wantCode string
		sentinel error
	}{
		{
			name: "AES pfx is refused as a wrong password",
			call: func(h *harness) error {
				_, err := h.client.Upload(t.Context(), testTenantKey, testConnectorID, aes.PFX, aes.Password)
				return err
			},
			wantCode: "AADB2C90213",
		},
		{
			name: "wrong password",
			call: func(h *harness) error {
				_, err := h.client.Upload(t.Context(), testTenantKey, testConnectorID, legacy.PFX, "not-the-password")
				return err
			},
			wantCode: "AADB2C90213",
		},
		{
			name: "unknown connector",
			call: func(h *harness) error {
				_, err := h.client.Get(t.Context(), testTenantKey, missingConn)
				return err
			},
			wantCode: "Request_ResourceNotFound",
			sentinel: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			err := tt.call(h)
			f := jobs.AsFailure(err)
			if f == nil || f.Class != jobs.ClassPermanent || f.Code != tt.wantCode {
				t.Fatalf("error = %v (%+v), want permanent %s", err, f, tt.wantCode)
			}
			var gerr *GraphError
			if !errors.As(err, &gerr) || !errors.Is(err, &GraphError{Code: tt.wantCode}) {
				t.Fatalf("error %v holds no GraphError with code %s", err, tt.wantCode)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			calls := h.graphCalls()
			if len(calls) != 1 || len(h.waits.all()) != 0 {
				t.Fatalf("graph calls = %d, waits = %v; want 1 call and no retry", len(calls), h.waits.all())
			}
			if gerr.RequestID == "" || f.RequestID != gerr.RequestID || gerr.ClientRequestID != calls[0].ClientRequestID {
				t.Errorf("ids = request %q/%q, client %q; want a request id and client id %q",
					gerr.RequestID, f.RequestID, gerr.ClientRequestID, calls[0].ClientRequestID)
			}
			if !strings.Contains(err.Error(), gerr.RequestID) {
				t.Errorf("error text %q lacks the request id", err)
			}
		})
	}
}

func TestUnauthorizedRefreshesTokenOnce(t *testing.T) {
	t.Parallel()
	h := setupExpired(t)
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get after ExpireTokens: %v", err)
	}
	var statuses []int
	for _, c := range h.graphCalls() {
		statuses = append(statuses, c.Status)
	}
	if len(statuses) != 3 || statuses[0] != 200 || statuses[1] != 401 || statuses[2] != 200 {
		t.Errorf("graph statuses = %v, want [200 401 200]", statuses)
	}
	if n := h.tokenCalls(); n != 2 {
		t.Errorf("token requests = %d, want 2 (one at start, one refresh)", n)
	}
	if len(h.waits.all()) != 0 {
		t.Errorf("waits = %v, want none before a refresh", h.waits.all())
	}
}

func TestUnauthorizedTwiceIsPermanent(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.sim.FailNext(3, graphsimFault(401, "", ""))
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassPermanent || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error = %v, want permanent InvalidAuthenticationToken", err)
	}
	if n := len(h.graphCalls()); n != 2 {
		t.Errorf("graph calls = %d, want 2 (one refresh only)", n)
	}
}

func TestWrongClientSecret(t *testing.T) {
	t.Parallel()
	const wrong = "wrong-secret-value-42"
	h := setup(t, func(c *Config) {
		ten := c.Tenants[testTenantKey]
		ten.ClientSecret = wrong
		c.Tenants[testTenantKey] = ten
	})
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	if f == nil || f.Class != jobs.ClassPermanent || f.Code != "AADSTS7000215" {
		t.Fatalf("error = %v (%+v), want permanent AADSTS7000215", err, f)
	}
	var ae *AuthError
	if !errors.As(err, &ae) || ae.OAuthError != "invalid_client" || ae.Status != 401 || ae.CorrelationID == "" {
		t.Errorf("AuthError = %+v, want invalid_client, 401 and a correlation id", ae)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(h.logs.String(), wrong) {
		t.Errorf("the secret leaked: %q", err)
	}
	if n := len(h.graphCalls()); n != 0 || len(h.waits.all()) != 0 {
		t.Errorf("graph calls = %d, waits = %v; want none", n, h.waits.all())
	}
}

func TestRefreshRebuildsOncePerGeneration(t *testing.T) {
	t.Parallel()
	h := setup(t)
	tc := h.client.tenants[testTenantKey]
	_, gen, err := tc.token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := tc.cred
	for range 3 { // three calls that saw a 401 with the same token
		if err := tc.refresh(gen); err != nil {
			t.Fatal(err)
		}
	}
	if tc.gen != gen+1 || tc.cred == before {
		t.Errorf("after 3 refreshes of generation %d: generation %d, credential rebuilt %t; want %d and true",
			gen, tc.gen, tc.cred != before, gen+1)
	}
}

func TestConcurrentCallsShareOneRefresh(t *testing.T) {
	t.Parallel()
	h := setupExpired(t)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Get: %v", err)
		}
	}
	if got := h.tokenCalls(); got != 2 {
		t.Errorf("token requests = %d, want 2: a burst of 401s must rebuild the credential once", got)
	}
}

// setupExpired is setup with a client that holds a token Graph no longer
// accepts: one Get fetched it, then the emulator expired every token.
func setupExpired(t *testing.T) *harness {
	t.Helper()
	h := setup(t)
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	h.sim.ExpireTokens()
	return h
}
