package graphsim

import (
	"fmt"
	"net/http"
	"strings"
)

// entityContentType is what Graph sends with an entity or a collection.
const entityContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// uploadAction is the OData action's name; Graph also accepts it qualified
// with the microsoft.graph namespace.
const uploadAction = "uploadClientCertificate"

func isGraphVersion(seg string) bool {
	return strings.EqualFold(seg, "v1.0") || strings.EqualFold(seg, "beta")
}

// serveGraph runs the Graph pipeline: latency, injected faults, the bearer
// token, the rate limits (the app's in the tenant, the tenant's), then the
// API-connector routes. Segments match case-insensitively, as in Graph.
func (s *Server) serveGraph(x *exchange, segs []string) {
	if !s.delay(x) {
		x.graphError(http.StatusServiceUnavailable, codeServiceUnavailable, "The server is shutting down or the client went away.", "")
		return
	}
	t, why := s.tokenTenant(x.r.Header.Get("Authorization"))
	if t != nil {
		x.rec.TenantID = t.id
	}
	if f, ok := s.takeFault(); ok {
		x.fault(f)
		return
	}
	if t == nil {
		x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(
			`Bearer realm="", authorization_uri="%s/common/oauth2/authorize", client_id="%s"`, s.url, graphAppID))
		x.graphError(http.StatusUnauthorized, codeInvalidToken, why, "")
		return
	}
	if r := s.admit(t, s.tokenApp(x.r.Header.Get("Authorization")), x.now); r != nil {
		x.throttled(r)
		return
	}
	s.routeGraph(x, t, segs)
}

func (s *Server) routeGraph(x *exchange, t *tenant, segs []string) {
	if isKeySetsPath(segs) {
		s.routeKeySets(x, t, segs)
		return
	}
	if len(segs) < 3 || !strings.EqualFold(segs[1], "identity") || !strings.EqualFold(segs[2], "apiConnectors") {
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Resource not found for the segment '%s'.", firstUnknown(segs)), "")
		return
	}
	collection{
		context: s.url + "/" + segs[0] + "/$metadata#identity/apiConnectors",
		list:    s.listConnectors,
		get:     s.getConnector,
		patch:   s.patchConnector,
		actions: []action{{name: uploadAction, method: http.MethodPost, serve: s.uploadCertificate}},
	}.route(x, t, segs)
}

// throttled answers a call the limits refused, the way Graph does: 429
// TooManyRequests, innerError activityLimitReached, Retry-After in seconds.
func (x *exchange) throttled(r *refusal) {
	scope := "this application in this tenant"
	if r.tenant {
		scope = "this tenant"
	}
	x.w.Header().Set("Retry-After", fmt.Sprint(retryAfterSeconds(r.wait)))
	x.graphError(http.StatusTooManyRequests, codeTooManyRequests,
		"Too many requests for "+scope+". Please retry after the time in the Retry-After header.", codeActivityLimit)
}

func firstUnknown(segs []string) string {
	want := []string{"", "identity", "apiConnectors"}
	for i := 1; i < len(segs) && i < len(want); i++ {
		if !strings.EqualFold(segs[i], want[i]) {
			return segs[i]
		}
	}
	return segs[len(segs)-1]
}

func (s *Server) getConnector(x *exchange, t *tenant, id, context string) {
	s.mu.Lock()
	c := t.connector(id)
	var e map[string]any
	if c != nil {
		e = c.entity(context, x.now)
	}
	s.mu.Unlock()
	if c == nil {
		x.notFound(id)
		return
	}
	x.writeJSON(http.StatusOK, entityContentType, e)
}

func (x *exchange) notFound(id string) {
	x.graphError(http.StatusNotFound, codeNotFound, fmt.Sprintf(
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", id), "")
}

// findConnector looks a connector up in the token's tenant, answering 404 if
// there is none.
func (s *Server) findConnector(x *exchange, t *tenant, id string) *connector {
	s.mu.Lock()
	c := t.connector(id)
	s.mu.Unlock()
	if c == nil {
		x.notFound(id)
	}
	return c
}
