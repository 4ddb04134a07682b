package graphsim

import (
	"fmt"
	"strings"
	"time"
)

// Cert is a certificate a connector holds: what Graph keeps of an upload.
type Cert struct {
	Thumbprint string // SHA-1 of the DER, 40 upper-case hex characters
	NotBefore  time.Time
	NotAfter   time.Time
}

// truncated drops sub-second precision: Graph stores seconds since 1970.
func (c Cert) truncated() Cert {
	return Cert{
		Thumbprint: strings.ToUpper(c.Thumbprint),
		NotBefore:  time.Unix(c.NotBefore.Unix(), 0).UTC(),
		NotAfter:   time.Unix(c.NotAfter.Unix(), 0).UTC(),
	}
}

// CertState is a Cert with isActive as Graph computes it on a read.
type CertState struct {
	Thumbprint string
	NotBefore  time.Time
	NotAfter   time.Time
	IsActive   bool
}

type tenant struct {
	id         string
	clients    map[string]string     // client id -> secret
	connectors []*connector          // in creation order, as the list call pages them
	byID       map[string]*connector // by lower-case id: fleets of thousands
	limits     *Limits               // set by SetTenantLimits; nil: the server's
	window     fixedWindow           // calls of every app in the current window
	apps       map[string]*appUse    // by client id
	counts     Counts
	// creds maps a client id to its certificates and federated credentials.
	creds map[string]*appCredentials
	// B2C policy key containers (keyset.go), in creation order and by
	// lower-case id, and the apps DenyKeySets refuses.
	keySets      []*keySet
	keySetsByID  map[string]*keySet
	keySetDenied map[string]bool
	// keySetReadOnly holds the apps KeySetsReadOnly lets read only.
	keySetReadOnly map[string]bool
}

func (t *tenant) connector(id string) *connector {
	return t.byID[strings.ToLower(id)]
}

func (t *tenant) addConnector(c *connector) {
	t.connectors = append(t.connectors, c)
	t.byID[strings.ToLower(c.id)] = c
}

type connector struct {
	id          string
	displayName string
	targetURL   string
	username    string // basic authentication, shown when certs is empty
	certs       []Cert // in upload order
	uploads     []string
}

// activeIndex returns the index of the active certificate at now, or -1: the
// most recently uploaded one whose notBefore has passed and that has not
// expired.
func activeIndex(certs []Cert, now time.Time) int {
	for i := len(certs) - 1; i >= 0; i-- {
		if !now.Before(certs[i].NotBefore) && now.Before(certs[i].NotAfter) {
			return i
		}
	}
	return -1
}

func (c *connector) states(now time.Time) []CertState {
	active := activeIndex(c.certs, now)
	out := make([]CertState, len(c.certs))
	for i, ct := range c.certs {
		out[i] = CertState{Thumbprint: ct.Thumbprint, NotBefore: ct.NotBefore, NotAfter: ct.NotAfter, IsActive: i == active}
	}
	return out
}

// entity renders the connector as Graph's identityApiConnector JSON. context
// is the @odata.context, "" to omit it (items of a collection).
func (c *connector) entity(context string, now time.Time) map[string]any {
	e := map[string]any{}
	if context != "" {
		e["@odata.context"] = context
	}
	e["id"] = c.id
	e["displayName"] = c.displayName
	e["targetUrl"] = c.targetURL
	e["authenticationConfiguration"] = c.authConfig(now)
	return e
}

func (c *connector) authConfig(now time.Time) map[string]any {
	if len(c.certs) == 0 {
		return map[string]any{
			"@odata.type": "#microsoft.graph.basicAuthentication",
			"username":    c.username,
			"password":    "******",
		}
	}
	list := make([]map[string]any, 0, len(c.certs))
	for _, st := range c.states(now) {
		list = append(list, map[string]any{
			"thumbprint": st.Thumbprint,
			"notBefore":  st.NotBefore.Unix(),
			"notAfter":   st.NotAfter.Unix(),
			"isActive":   st.IsActive,
		})
	}
	return map[string]any{
		"@odata.type":     "#microsoft.graph.clientCertificateAuthentication",
		"certificateList": list,
	}
}

// Uploads returns the thumbprints uploaded to a connector through
// uploadClientCertificate, in order, duplicates included. Seeds and PATCHes
// are not uploads. It returns nil for an unknown tenant or connector.
func (s *Server) Uploads(tenantID, connectorID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.connectorLocked(tenantID, connectorID)
	if c == nil {
		return nil
	}
	return append([]string(nil), c.uploads...)
}

// Certificates returns a connector's certificate list in upload order, with
// IsActive computed at the injected clock's now. It returns nil for an
// unknown tenant or connector, or one using basic authentication.
func (s *Server) Certificates(tenantID, connectorID string) []CertState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.connectorLocked(tenantID, connectorID)
	if c == nil || len(c.certs) == 0 {
		return nil
	}
	return c.states(s.nowFunc())
}

func (s *Server) connectorLocked(tenantID, connectorID string) *connector {
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return nil
	}
	return t.connector(connectorID)
}

// SetTargetURL sets a connector's targetUrl, the API B2C calls (by default
// https://api.example.com/connectors/<id>), so that a test can point it at
// its own HTTPS server. Unlike AddConnector it may be called after Start.
// It panics for an unknown tenant or connector.
func (s *Server) SetTargetURL(tenantID, connectorID, url string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.connectorLocked(tenantID, connectorID)
	if c == nil {
		panic(fmt.Sprintf("graphsim: SetTargetURL: unknown connector %q of tenant %q", connectorID, tenantID))
	}
	c.targetURL = url
	return s
}

// TargetURL returns a connector's targetUrl, "" for an unknown one.
func (s *Server) TargetURL(tenantID, connectorID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.connectorLocked(tenantID, connectorID); c != nil {
		return c.targetURL
	}
	return ""
}
