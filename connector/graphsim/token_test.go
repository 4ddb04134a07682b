package graphsim_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func credential(t *testing.T, s *graphsim.Server, tenant, id, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, id, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"},
			Transport: s.Client(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestAzidentityTokenWorksOnGraph(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	for _, scope := range []string{"https://graph.microsoft.com/.default", s.URL() + "/.default"} {
		tok, err := credential(t, s, tenantID, clientID, clientSecret).GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatalf("GetToken(%s): %s", scope, err)
		}
		if c := testkit.GetConnector(t, s, tok.Token, connID); c.ID != connID {
			t.Errorf("connector id = %q through an azidentity token", c.ID)
		}
	}
	var sawDiscovery bool
	for _, r := range s.Requests() {
		if r.Path == "/"+tenantID+"/v2.0/.well-known/openid-configuration" && r.Status == http.StatusOK {
			sawDiscovery = true
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("request %s %s recorded an Authorization header", r.Method, r.Path)
		}
	}
	if !sawDiscovery {
		t.Error("MSAL did not read the openid configuration: the test no longer covers it")
	}
}

func TestAzidentityWrongSecret(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	_, err := credential(t, s, tenantID, clientID, "wrong-secret-xyz").GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("err = %v, want AuthenticationFailedError", err)
	}
	if afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized {
		t.Errorf("raw response %+v, want 401", afe.RawResponse)
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "wrong-secret-xyz") {
		t.Errorf("error %q: want AADSTS7000215 and no secret", err)
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	form := func(mod func(url.Values)) string {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
			"scope": {"https://graph.microsoft.com/.default"}}
		mod(v)
		return v.Encode()
	}
	tests := []struct {
		name   string
		tenant string
		body   string
		status int
		error  string
		code   int
	}{
		{"wrong secret", tenantID, form(func(v url.Values) { v.Set("client_secret", "nope-nope") }), 401, "invalid_client", 7000215},
		{"no secret", tenantID, form(func(v url.Values) { v.Del("client_secret") }), 401, "invalid_client", 7000218},
		{"unknown client", tenantID, form(func(v url.Values) { v.Set("client_id", "33333333-0000-0000-0000-000000000000") }), 400, "unauthorized_client", 700016},
		{"client of another tenant", tenantID, form(func(v url.Values) { v.Set("client_id", otherClient) }), 400, "unauthorized_client", 700016},
		{"unknown tenant", "99999999-0000-0000-0000-000000000000", form(func(url.Values) {}), 400, "invalid_request", 90002},
		{"no grant type", tenantID, form(func(v url.Values) { v.Del("grant_type") }), 400, "invalid_request", 900144},
		{"password grant", tenantID, form(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type", 70003},
		{"scope without .default", tenantID, form(func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/User.Read") }), 400, "invalid_scope", 1002012},
		{"unknown resource", tenantID, form(func(v url.Values) { v.Set("scope", "https://vault.azure.net/.default") }), 400, "invalid_resource", 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := testkit.GraphDo(t, s, http.MethodPost, "/"+tt.tenant+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var e struct {
				Error         string `json:"error"`
				Description   string `json:"error_description"`
				Codes         []int  `json:"error_codes"`
				Timestamp     string `json:"timestamp"`
				TraceID       string `json:"trace_id"`
				CorrelationID string `json:"correlation_id"`
			}
			testkit.MustJSON(t, body, &e)
			if e.Error != tt.error || len(e.Codes) != 1 || e.Codes[0] != tt.code {
				t.Errorf("error %q codes %v, want %q [%d]", e.Error, e.Codes, tt.error, tt.code)
			}
			if !strings.HasPrefix(e.Description, "AADSTS") || e.Timestamp == "" || e.TraceID == "" || e.CorrelationID == "" {
				t.Errorf("incomplete Entra error: %s", body)
			}
			testkit.NoSecrets(t, "token error", body, clientSecret, "nope-nope")
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/"+tenantID+"/v2.0/.well-known/openid-configuration", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var cfg map[string]any
	testkit.MustJSON(t, body, &cfg)
	want := map[string]string{
		"issuer":                 s.URL() + "/" + tenantID + "/v2.0",
		"token_endpoint":         s.URL() + "/" + tenantID + "/oauth2/v2.0/token",
		"authorization_endpoint": s.URL() + "/" + tenantID + "/oauth2/v2.0/authorize",
		"jwks_uri":               s.URL() + "/" + tenantID + "/discovery/v2.0/keys",
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %v, want %s", k, cfg[k], v)
		}
	}
	resp, body = testkit.GraphDo(t, s, http.MethodGet, "/unknown-tenant/v2.0/.well-known/openid-configuration", "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "AADSTS90002") {
		t.Errorf("unknown tenant: %d %s", resp.StatusCode, body)
	}
}

func TestTokenEndpointRejectsGet(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/"+tenantID+"/oauth2/v2.0/token", "", "", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "AADSTS900561") {
		t.Errorf("GET token: %d %s", resp.StatusCode, body)
	}
}
