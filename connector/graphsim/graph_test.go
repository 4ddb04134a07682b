package graphsim_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestGetConnectorSeeded(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seed := graphsim.Cert{Thumbprint: "0eb2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa97ad", NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0)}
	clock := testkit.NewClock(nb.AddDate(0, 6, 0))
	s, token := setup(t, func(s *graphsim.Server) {
		s.WithClock(clock.Now).AddConnector(tenantID, "seeded", "seeded-api", seed)
	})
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/seeded", token, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var c testkit.ConnectorJSON
	testkit.MustJSON(t, body, &c)
	if c.Context != s.URL()+"/v1.0/$metadata#identity/apiConnectors/$entity" {
		t.Errorf("@odata.context = %q", c.Context)
	}
	a := c.Authentication
	if a.Type != "#microsoft.graph.clientCertificateAuthentication" || len(a.List) != 1 {
		t.Fatalf("authenticationConfiguration = %+v", a)
	}
	got := a.List[0]
	if got.Thumbprint != "0EB2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA97AD" || got.NotBefore != nb.Unix() || got.NotAfter != nb.AddDate(1, 0, 0).Unix() || !got.IsActive {
		t.Errorf("certificate = %+v", got)
	}
}

func TestGetConnectorWithoutCertsIsBasicAuth(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	c := testkit.GetConnector(t, s, token, connID)
	if c.ID != connID || c.DisplayName != "contoso-api" || c.TargetURL == "" {
		t.Errorf("connector = %+v", c)
	}
	if c.Authentication.Type != "#microsoft.graph.basicAuthentication" || c.Authentication.Password != "******" {
		t.Errorf("authenticationConfiguration = %+v", c.Authentication)
	}
}

func TestListConnectorsIsScopedToTheTokensTenant(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors", token, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var list struct {
		Context string                  `json:"@odata.context"`
		Value   []testkit.ConnectorJSON `json:"value"`
	}
	testkit.MustJSON(t, body, &list)
	if list.Context != s.URL()+"/v1.0/$metadata#identity/apiConnectors" {
		t.Errorf("@odata.context = %q", list.Context)
	}
	if len(list.Value) != 1 || list.Value[0].ID != connID {
		t.Errorf("value = %+v, want only %s", list.Value, connID)
	}
	resp, body = testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+otherConnID, token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusNotFound, "Request_ResourceNotFound")
}

func TestPathIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	for _, p := range []string{"/v1.0/identity/apiconnectors/" + connID, "/V1.0/Identity/APICONNECTORS/" + connID} {
		if resp, body := testkit.GraphDo(t, s, http.MethodGet, p, token, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
}

func TestGraphErrors(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"unknown connector", "GET", "/v1.0/identity/apiConnectors/nope", token, 404, "Request_ResourceNotFound"},
		{"upload to unknown connector", "POST", "/v1.0/identity/apiConnectors/nope/uploadClientCertificate", token, 404, "Request_ResourceNotFound"},
		{"no token", "GET", "/v1.0/identity/apiConnectors/" + connID, "", 401, "InvalidAuthenticationToken"},
		{"unknown token", "GET", "/v1.0/identity/apiConnectors/" + connID, "graphsim.forged", 401, "InvalidAuthenticationToken"},
		{"unknown segment", "GET", "/v1.0/identity/b2cUserFlows", token, 400, "BadRequest"},
		{"unknown action", "POST", "/v1.0/identity/apiConnectors/" + connID + "/uploadPkcs12", token, 400, "BadRequest"},
		{"wrong method", "DELETE", "/v1.0/identity/apiConnectors/" + connID, token, 405, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := testkit.GraphDo(t, s, tt.method, tt.path, tt.token, "application/json", "{}")
			testkit.WantGraphError(t, resp, body, tt.status, tt.code)
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestExpireTokens(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	testkit.GetConnector(t, s, token, connID)
	s.ExpireTokens()
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusUnauthorized, "InvalidAuthenticationToken")
	fresh := testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
	if c := testkit.GetConnector(t, s, fresh, connID); c.ID != connID {
		t.Errorf("fresh token read %q", c.ID)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestIDHeaders(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/v1.0/identity/apiConnectors/"+connID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("client-request-id", "0b0b0b0b-1111-4222-8333-444444444444")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("client-request-id"); got != "0b0b0b0b-1111-4222-8333-444444444444" {
		t.Errorf("client-request-id not echoed: %q", got)
	}
	if !uuidRE.MatchString(resp.Header.Get("request-id")) || resp.Header.Get("Date") == "" {
		t.Errorf("request-id %q, Date %q", resp.Header.Get("request-id"), resp.Header.Get("Date"))
	}
	resp2, _ := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", "")
	if !uuidRE.MatchString(resp2.Header.Get("client-request-id")) {
		t.Errorf("generated client-request-id %q is no UUID", resp2.Header.Get("client-request-id"))
	}
}

// TestSetTargetURL: a test points a connector's targetUrl at its own API,
// after Start too, and GET and the list return it.
func TestSetTargetURL(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	const api = "https://127.0.0.1:8443/api/signup"
	s.SetTargetURL(tenantID, connID, api)
	if c := getConnectorID(t, s, token, connID); c.TargetURL != api {
		t.Errorf("GET targetUrl = %q, want %q", c.TargetURL, api)
	}
	if got := s.TargetURL(tenantID, connID); got != api {
		t.Errorf("TargetURL = %q", got)
	}
	resp, body := testkit.GraphDo(t, s, "GET", "/v1.0/identity/apiConnectors", token, "", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"targetUrl":"`+api+`"`) {
		t.Errorf("list: %d %s", resp.StatusCode, body)
	}
}
