package graphsim

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// B2C custom-policy key containers (trustFrameworkKeySet, Graph beta only):
//
//	GET  /beta/trustFramework/keySets                      (paged like the connectors)
//	GET  /beta/trustFramework/keySets/{id}                 (the container and its keys)
//	POST /beta/trustFramework/keySets/{id}/uploadPkcs12     {"key", "password"}
//	GET  /beta/trustFramework/keySets/{id}/getActiveKey
//
// What is modelled, from Graph's beta pages for trustFrameworkKeySet,
// trustFrameworkKey, uploadPkcs12 and getActiveKey and B2C's "policy keys
// overview": a key is a JWK whose x5t is the base64url SHA-1 of the
// certificate and whose nbf/exp (Unix seconds) come from it; an upload
// appends a key and never removes one; one key is active at a time, chosen
// by activation date (see activeKey). Where Microsoft documents nothing
// (getActiveKey with no valid key, the code of a non-RSA key) the answer is
// inferred and says so.

const (
	keySetsSegment   = "keySets"
	uploadPkcs12     = "uploadPkcs12"
	getActiveKeyName = "getActiveKey"
	// codePFXExpired is B2C's "key container expiry in the past": an upload
	// whose certificate has already expired.
	codePFXExpired = "AADB2C90214"
	// codeNoActiveKey is the inner code of getActiveKey's 404 when no key is
	// valid now (inferred: Graph documents no error for it).
	codeNoActiveKey = "noActiveKey"
)

// Key is a policy key as the emulator keeps it: what tests seed with
// AddKeySet and read back with Keys.
type Key struct {
	Kid       string
	Use       string // "sig" unless set
	X5t       string // base64url (no padding) SHA-1 of the certificate's DER
	NotBefore time.Time
	NotAfter  time.Time // zero: never expires
	// Active is computed by Keys at the injected clock; ignored on seeds.
	Active bool

	jwk map[string]any // kty, n, e, x5c of an uploaded certificate
}

type keySet struct {
	id      string
	keys    []Key    // in upload order
	uploads []string // x5t of each uploadPkcs12, in order
}

// activeKey applies B2C's rule at now: keys are ordered by activation date
// (nbf, upload order breaking ties); the active key is the latest whose nbf
// has passed and that has not expired, so when it expires the next valid
// one takes over. It returns -1 when no key is valid.
func activeKey(keys []Key, now time.Time) int {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return keys[a].NotBefore.Compare(keys[b].NotBefore) })
	for i := len(order) - 1; i >= 0; i-- {
		k := keys[order[i]]
		if !now.Before(k.NotBefore) && (k.NotAfter.IsZero() || now.Before(k.NotAfter)) {
			return order[i]
		}
	}
	return -1
}

func (k Key) json() map[string]any {
	e := map[string]any{}
	for name, v := range k.jwk {
		e[name] = v
	}
	e["kid"] = k.Kid
	e["use"] = k.Use
	if _, ok := e["kty"]; !ok {
		e["kty"] = "RSA"
	}
	if k.X5t != "" {
		e["x5t"] = k.X5t
	}
	if !k.NotBefore.IsZero() {
		e["nbf"] = k.NotBefore.Unix()
	}
	if !k.NotAfter.IsZero() {
		e["exp"] = k.NotAfter.Unix()
	}
	return e
}

func (ks *keySet) entity(context string) map[string]any {
	e := map[string]any{}
	if context != "" {
		e["@odata.context"] = context
	}
	keys := make([]map[string]any, 0, len(ks.keys))
	for _, k := range ks.keys {
		keys = append(keys, k.json())
	}
	e["id"] = ks.id
	e["keys"] = keys
	return e
}

// AddKeySet creates a policy key container in a tenant already added with
// AddTenant, holding seed keys (which do not count as uploads). It panics
// after Start, for an unknown tenant or a duplicate id.
func (s *Server) AddKeySet(tenantID, id string, seed ...Key) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.setupTenantLocked("AddKeySet", tenantID)
	if t.keySetsByID == nil {
		t.keySetsByID = map[string]*keySet{}
	}
	if t.keySetsByID[strings.ToLower(id)] != nil {
		panic(fmt.Sprintf("graphsim: AddKeySet: key set %q already exists", id))
	}
	ks := &keySet{id: id}
	for _, k := range seed {
		ks.keys = append(ks.keys, k.normalized())
	}
	t.keySets = append(t.keySets, ks)
	t.keySetsByID[strings.ToLower(id)] = ks
	return s
}

// AddKey appends a key to a container as a person in the portal would
// (uploading by hand), at any time. It does not count as an upload. It
// panics for an unknown tenant or container.
func (s *Server) AddKey(tenantID, id string, k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.keySetLocked(tenantID, id)
	if ks == nil {
		panic(fmt.Sprintf("graphsim: AddKey: unknown key set %q of tenant %q", id, tenantID))
	}
	ks.keys = append(ks.keys, k.normalized())
}

func (k Key) normalized() Key {
	if k.Kid == "" {
		k.Kid = newUUID()
	}
	if k.Use == "" {
		k.Use = "sig"
	}
	k.NotBefore = unixTime(k.NotBefore)
	k.NotAfter = unixTime(k.NotAfter)
	k.Active = false
	return k
}

func unixTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Unix(t.Unix(), 0).UTC()
}

// Keys returns a container's keys in upload order with Active computed at
// the injected clock's now; nil for an unknown tenant or container.
func (s *Server) Keys(tenantID, id string) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.keySetLocked(tenantID, id)
	if ks == nil {
		return nil
	}
	active := activeKey(ks.keys, s.nowFunc())
	out := make([]Key, len(ks.keys))
	for i, k := range ks.keys {
		k.jwk = nil
		k.Active = i == active
		out[i] = k
	}
	return out
}

// KeyUploads returns the x5t of every uploadPkcs12 to a container, in
// order; nil for an unknown one.
func (s *Server) KeyUploads(tenantID, id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ks := s.keySetLocked(tenantID, id); ks != nil {
		return append([]string(nil), ks.uploads...)
	}
	return nil
}

// DenyKeySets makes every keySets call of the app (client id) in the tenant
// answer 403 Authorization_RequestDenied, as Graph does when the app lacks
// TrustFrameworkKeySet.ReadWrite.All and Read.All; on false the permission is granted
// again. It may be called at any time.
func (s *Server) DenyKeySets(tenantID, clientID string, deny bool) {
	s.setAppFlag("DenyKeySets", tenantID, clientID, func(t *tenant) *map[string]bool { return &t.keySetDenied }, deny)
}

// KeySetsReadOnly gives the app (client id) in the tenant
// TrustFrameworkKeySet.Read.All instead of ReadWrite.All: it may list and
// read containers and their active key, and every upload answers 403
// Authorization_RequestDenied. On false it may write again. It may be
// called at any time; DenyKeySets overrides it.
func (s *Server) KeySetsReadOnly(tenantID, clientID string, on bool) {
	s.setAppFlag("KeySetsReadOnly", tenantID, clientID, func(t *tenant) *map[string]bool { return &t.keySetReadOnly }, on)
}

// setAppFlag sets the app's entry in the per-app map of the tenant that
// flags picks, at any time; it panics for a tenant AddTenant did not add,
// naming method.
func (s *Server) setAppFlag(method, tenantID, clientID string, flags func(*tenant) *map[string]bool, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := flags(s.knownTenantLocked(method, tenantID))
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[clientID] = on
}

func (s *Server) keySetLocked(tenantID, id string) *keySet {
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return nil
	}
	return t.keySetsByID[strings.ToLower(id)]
}

// isKeySetsPath reports whether segs is /beta/trustFramework/keySets….
func isKeySetsPath(segs []string) bool {
	return len(segs) >= 3 && strings.EqualFold(segs[1], "trustFramework") && strings.EqualFold(segs[2], keySetsSegment)
}

// routeKeySets serves the key container routes, beta only.
func (s *Server) routeKeySets(x *exchange, t *tenant, segs []string) {
	if !strings.EqualFold(segs[0], "beta") {
		x.graphError(http.StatusBadRequest, codeBadRequest, "Resource not found for the segment 'trustFramework'.", "")
		return
	}
	s.mu.Lock()
	app := s.tokenAppLocked(x.r.Header.Get("Authorization"))
	denied := t.keySetDenied[app] || t.keySetReadOnly[app] && x.r.Method != http.MethodGet
	s.mu.Unlock()
	if denied {
		x.graphError(http.StatusForbidden, codeAuthorizationDenied, "Insufficient privileges to complete the operation.", "")
		return
	}
	collection{
		context: s.url + "/beta/$metadata#trustFramework/keySets",
		list:    s.listKeySets,
		get:     s.getKeySet,
		actions: []action{
			{name: uploadPkcs12, method: http.MethodPost, serve: func(x *exchange, t *tenant, id, _ string) { s.uploadKey(x, t, id) }},
			{name: getActiveKeyName, method: http.MethodGet, serve: func(x *exchange, t *tenant, id, _ string) { s.getActiveKey(x, t, id) }},
		},
	}.route(x, t, segs)
}

func (s *Server) findKeySet(x *exchange, t *tenant, id string) *keySet {
	s.mu.Lock()
	ks := t.keySetsByID[strings.ToLower(id)]
	s.mu.Unlock()
	if ks == nil {
		x.notFound(id)
	}
	return ks
}

func (s *Server) getKeySet(x *exchange, t *tenant, id, context string) {
	ks := s.findKeySet(x, t, id)
	if ks == nil {
		return
	}
	s.mu.Lock()
	e := ks.entity(context)
	s.mu.Unlock()
	x.writeJSON(http.StatusOK, entityContentType, e)
}

// listKeySets pages the tenant's containers exactly as listConnectors does.
func (s *Server) listKeySets(x *exchange, t *tenant, context string) {
	listPage(s, x, context, func() int { return len(t.keySets) },
		func(i int) map[string]any { return t.keySets[i].entity("") })
}

// keyUploadBody is uploadPkcs12's parameters.
type keyUploadBody struct {
	Key      *string `json:"key"`
	Password *string `json:"password"`
}

// uploadKey decodes the PFX as uploadClientCertificate does, appends the
// key (even when its x5t is already there) and answers 200 with it.
func (s *Server) uploadKey(x *exchange, t *tenant, id string) {
	ks := s.findKeySet(x, t, id)
	if ks == nil {
		return
	}
	var body keyUploadBody
	if !x.readJSON(&body, uploadPkcs12) {
		return
	}
	if !x.requireParams(uploadPkcs12, body.Key, "key", body.Password, "password") {
		return
	}
	pfx, rej := decodeBase64PFX(*body.Key)
	if rej != nil {
		x.rejected(rej)
		return
	}
	cert, rej := decodePFXCert(pfx, *body.Password)
	if rej != nil {
		x.rejected(rej)
		return
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		// Policy keys are RSA; the code for another kind is inferred.
		x.rejected(malformed("the key is not an RSA key"))
		return
	}
	if !x.now.Before(cert.NotAfter) {
		x.graphError(http.StatusBadRequest, codePFXExpired, "The key container expiry is in the past.", "")
		return
	}
	sum := sha1.Sum(cert.Raw)
	k := Key{
		X5t: base64.RawURLEncoding.EncodeToString(sum[:]), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		jwk: map[string]any{
			"kty": "RSA",
			"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			"x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)},
		},
	}.normalized()
	s.mu.Lock()
	ks.keys = append(ks.keys, k)
	ks.uploads = append(ks.uploads, k.X5t)
	s.mu.Unlock()
	x.rec.Thumbprint = strings.ToUpper(hex.EncodeToString(sum[:])) // as for connectors: hex, not x5t
	e := k.json()
	e["@odata.context"] = s.url + "/beta/$metadata#microsoft.graph.trustFrameworkKey"
	x.writeJSON(http.StatusOK, entityContentType, e)
}

// getActiveKey answers the key activeKey picks at the request's time, or a
// 404 (inner code noActiveKey, inferred) when none is valid.
func (s *Server) getActiveKey(x *exchange, t *tenant, id string) {
	ks := s.findKeySet(x, t, id)
	if ks == nil {
		return
	}
	s.mu.Lock()
	i := activeKey(ks.keys, x.now)
	var e map[string]any
	if i >= 0 {
		e = ks.keys[i].json()
	}
	s.mu.Unlock()
	if e == nil {
		x.graphError(http.StatusNotFound, codeNotFound, fmt.Sprintf("The key set '%s' has no active key.", id), codeNoActiveKey)
		return
	}
	e["@odata.context"] = s.url + "/beta/$metadata#microsoft.graph.trustFrameworkKey"
	x.writeJSON(http.StatusOK, entityContentType, e)
}
