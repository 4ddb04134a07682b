package graphsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenLifetime is what Entra grants an app token (expires_in 3599).
const tokenLifetime = 3599 * time.Second

// graphAppID is Microsoft Graph's well-known application id; Entra accepts
// it in place of the resource URL in a scope.
const graphAppID = "00000003-0000-0000-c000-000000000000"

type token struct {
	tenant  *tenant
	app     string    // client id, for the per-app rate limit
	expires time.Time // wall clock
	expired bool      // set by ExpireTokens
}

// serveAuthority answers the Entra v2 endpoints of one tenant:
// {tenant}/v2.0/.well-known/openid-configuration, {tenant}/discovery/v2.0/keys
// and {tenant}/oauth2/v2.0/token.
func (s *Server) serveAuthority(x *exchange, segs []string) {
	path := strings.ToLower(strings.Join(segs[1:], "/"))
	s.mu.Lock()
	t := s.tenants[strings.ToLower(segs[0])]
	s.mu.Unlock()
	x.rec.TenantID = segs[0]
	if t != nil {
		x.rec.TenantID = t.id
	}
	switch path {
	case "v2.0/.well-known/openid-configuration":
		s.openIDConfiguration(x, segs[0], t)
	case "discovery/v2.0/keys":
		x.writeJSON(http.StatusOK, "application/json; charset=utf-8", map[string]any{"keys": []any{}})
	case "oauth2/v2.0/token":
		s.issueToken(x, segs[0], t)
	default:
		http.NotFound(x.w, x.r)
	}
}

func (s *Server) openIDConfiguration(x *exchange, name string, t *tenant) {
	if t == nil {
		x.entraError(s.url, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(name))
		return
	}
	base := s.url + "/" + t.id
	x.writeJSON(http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.url + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          strings.TrimPrefix(s.url, "https://"),
	})
}

// issueToken is the client-credentials grant with a client secret or a
// client assertion, checked in Entra's order: method, tenant, grant type,
// client, credential, scope.
func (s *Server) issueToken(x *exchange, name string, t *tenant) {
	if x.r.Method != http.MethodPost {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900561,
			fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", x.r.Method))
		return
	}
	if t == nil {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(name))
		return
	}
	if err := x.r.ParseForm(); err != nil {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900144, missingParam("grant_type"))
		return
	}
	f := x.r.PostForm
	if !s.checkGrant(x, f.Get("grant_type")) || !s.checkClient(x, t, f) || !s.checkScope(x, t, f.Get("scope")) {
		return
	}
	access := s.mintToken(t, f.Get("client_id"))
	x.w.Header().Set("Cache-Control", "no-store, no-cache")
	x.w.Header().Set("Pragma", "no-cache")
	x.writeJSON(http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(tokenLifetime / time.Second),
		"ext_expires_in": int(tokenLifetime / time.Second),
		"access_token":   access,
	})
}

func (s *Server) checkGrant(x *exchange, grant string) bool {
	switch grant {
	case "client_credentials":
		return true
	case "":
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900144, missingParam("grant_type"))
	default:
		x.entraError(s.url, http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type. The emulator supports client_credentials only.")
	}
	return false
}

// mintToken records a new access token for t, valid by the wall clock.
func (s *Server) mintToken(t *tenant, app string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	access := newAccessToken()
	s.tokens[access] = &token{tenant: t, app: app, expires: time.Now().Add(tokenLifetime)}
	return access
}

// checkClient authenticates the app with its secret or a client assertion.
func (s *Server) checkClient(x *exchange, t *tenant, f url.Values) bool {
	clientID, secret, assertion := f.Get("client_id"), f.Get("client_secret"), f.Get("client_assertion")
	if clientID == "" {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900144, missingParam("client_id"))
		return false
	}
	s.mu.Lock()
	want, ok := t.clients[clientID]
	s.mu.Unlock()
	switch {
	case ok && secret == "" && assertion != "":
		return s.checkAssertion(x, t, clientID, f.Get("client_assertion_type"), assertion)
	case !ok:
		x.entraError(s.url, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, t.id))
	case secret == "":
		x.entraError(s.url, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case want == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1:
		x.entraError(s.url, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
			clientID))
	default:
		return true
	}
	return false
}

// checkScope accepts exactly one "<graph root>/.default" scope, ignoring the
// OpenID scopes some clients add. The root may be the emulator's own URL,
// Graph's global or China URL, or Graph's app id.
func (s *Server) checkScope(x *exchange, t *tenant, scope string) bool {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "profile", "offline_access":
		default:
			resources = append(resources, sc)
		}
	}
	if len(resources) == 0 {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900144, missingParam("scope"))
		return false
	}
	if len(resources) > 1 || !strings.HasSuffix(resources[0], "/.default") {
		x.entraError(s.url, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
			scope))
		return false
	}
	resource := strings.TrimRight(strings.TrimSuffix(resources[0], "/.default"), "/")
	for _, ok := range []string{s.url, "https://graph.microsoft.com", "https://microsoftgraph.chinacloudapi.cn", graphAppID} {
		if strings.EqualFold(resource, ok) {
			return true
		}
	}
	x.entraError(s.url, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
		"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
		resource, t.id))
	return false
}

func tenantNotFound(name string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", name)
}

func missingParam(name string) string {
	return fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)
}

// entraError writes the authority's error shape: error, error_description
// ("AADSTSnnnn: ..." plus trace, correlation id and timestamp), error_codes,
// timestamp, trace_id, correlation_id, error_uri.
func (x *exchange) entraError(base string, status int, errCode string, aadsts int, text string) {
	stamp := x.now.UTC().Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
		aadsts, text, x.requestID, x.clientRequestID, stamp)
	x.w.Header().Set("x-ms-request-id", x.requestID)
	x.writeJSON(status, "application/json; charset=utf-8", map[string]any{
		"error":             errCode,
		"error_description": desc,
		"error_codes":       []int{aadsts},
		"timestamp":         stamp,
		"trace_id":          x.requestID,
		"correlation_id":    x.clientRequestID,
		"error_uri":         fmt.Sprintf("%s/error?code=%d", base, aadsts),
	})
}

// newAccessToken returns an opaque bearer token.
func newAccessToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "graphsim." + base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenTenant resolves a bearer token; it returns a Graph message explaining
// a rejection when the token is missing, unknown or expired.
func (s *Server) tokenTenant(header string) (*tenant, string) {
	scheme, access, _ := strings.Cut(header, " ")
	if header == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(access) == "" {
		return nil, "Access token is empty."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.tokens[strings.TrimSpace(access)]
	switch {
	case tok == nil:
		return nil, "Invalid JWT token. The token is malformed or was not issued by this authority."
	case tok.expired || !time.Now().Before(tok.expires):
		return nil, "Lifetime validation failed, the token is expired."
	}
	return tok.tenant, ""
}
