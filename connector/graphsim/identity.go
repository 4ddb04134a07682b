package graphsim

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// managedIdentityPath is where the emulator serves the App Service managed
// identity endpoint (IDENTITY_ENDPOINT), the one azidentity selects when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set.
const managedIdentityPath = "/msi/token"

// serveManagedIdentity answers App Service's managed identity protocol
// (api-version 2019-08-01): GET with the X-IDENTITY-HEADER secret and the
// resource (no /.default), optionally client_id for a user-assigned
// identity; the answer carries expires_on in Unix seconds as a string.
func (s *Server) serveManagedIdentity(x *exchange) {
	q := x.r.URL.Query()
	s.mu.Lock()
	want, ids := s.creds.identityHeader, s.creds.identities
	s.mu.Unlock()
	switch {
	case x.r.Method != http.MethodGet:
		s.identityError(x, http.StatusMethodNotAllowed, "The managed identity endpoint only accepts GET.")
		return
	case want == "" || subtle.ConstantTimeCompare([]byte(x.r.Header.Get("X-IDENTITY-HEADER")), []byte(want)) != 1:
		s.identityError(x, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	case q.Get("api-version") != "2019-08-01":
		s.identityError(x, http.StatusBadRequest, "api-version must be 2019-08-01.")
		return
	case !s.isGraphResource(q.Get("resource")):
		s.identityError(x, http.StatusBadRequest, "resource must be Microsoft Graph's root URL.")
		return
	}
	id, ok := pickIdentity(ids, q.Get("client_id"))
	if !ok {
		s.identityError(x, http.StatusBadRequest, "No managed identity with this client_id is assigned to the resource.")
		return
	}
	x.rec.TenantID = id.tenant.id
	access := s.mintToken(id.tenant, id.clientID)
	x.writeJSON(http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"access_token": access,
		"expires_on":   strconv.FormatInt(time.Now().Add(tokenLifetime).Unix(), 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
		"client_id":    id.clientID,
	})
}

// pickIdentity returns the system-assigned identity (the first) when
// clientID is empty, else the user-assigned one with that client id.
func pickIdentity(ids []identity, clientID string) (identity, bool) {
	for i, id := range ids {
		if (clientID == "" && i == 0) || strings.EqualFold(id.clientID, clientID) {
			return id, true
		}
	}
	return identity{}, false
}

// isGraphResource accepts the roots checkScope accepts, without /.default.
func (s *Server) isGraphResource(resource string) bool {
	resource = strings.TrimRight(resource, "/")
	for _, ok := range []string{s.url, "https://graph.microsoft.com", "https://microsoftgraph.chinacloudapi.cn", graphAppID} {
		if strings.EqualFold(resource, ok) {
			return true
		}
	}
	return false
}

// identityError is the managed identity endpoint's error shape.
func (s *Server) identityError(x *exchange, status int, message string) {
	x.writeJSON(status, "application/json; charset=utf-8", map[string]any{
		"statusCode":    status,
		"message":       message,
		"correlationId": x.clientRequestID,
	})
}
