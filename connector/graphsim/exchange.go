package graphsim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Request is one request the emulator answered, as Requests reports it.
// Bodies are never recorded; neither are the Authorization and
// X-IDENTITY-HEADER headers.
type Request struct {
	Method          string
	Path            string
	TenantID        string // from the token (Graph) or the path (authority); "" when unknown
	ClientRequestID string // the client-request-id header the client sent, "" if none
	Status          int
	Thumbprint      string      // the uploaded certificate, for successful uploads only
	Header          http.Header // request headers without Authorization
}

// Requests returns a copy of every request answered so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// exchange carries one request through the handlers: the ids sent back, the
// time it is handled at, and the record being filled in.
type exchange struct {
	w               *statusWriter
	r               *http.Request
	now             time.Time
	requestID       string
	clientRequestID string // echoed from the client or generated
	rec             Request
}

// statusWriter remembers the status code for the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveHTTP is the single entry point: it stamps the ids and the Date,
// routes, and records the outcome.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: &statusWriter{ResponseWriter: w}, r: r, now: s.now(), requestID: newUUID()}
	sent := r.Header.Get("client-request-id")
	x.clientRequestID = sent
	if x.clientRequestID == "" {
		x.clientRequestID = newUUID()
	}
	h := w.Header()
	h.Set("request-id", x.requestID)
	h.Set("client-request-id", x.clientRequestID)
	h.Set("Date", x.now.UTC().Format(http.TimeFormat))
	hdr := r.Header.Clone()
	hdr.Del("Authorization")
	hdr.Del("X-IDENTITY-HEADER") // the managed identity endpoint's secret
	x.rec = Request{Method: r.Method, Path: r.URL.Path, ClientRequestID: sent, Header: hdr}

	s.route(x)

	x.rec.Status = x.w.status
	if x.rec.Status == 0 {
		x.rec.Status = http.StatusOK
	}
	s.mu.Lock()
	if !s.noRecord {
		s.requests = append(s.requests, x.rec)
	}
	s.mu.Unlock()
}

// route dispatches on the first path segment: "v1.0"/"beta" is Graph,
// /msi/token the managed identity endpoint, anything else is a tenant of
// the authority.
func (s *Server) route(x *exchange) {
	segs := strings.Split(strings.Trim(x.r.URL.Path, "/"), "/")
	switch {
	case x.r.URL.Path == managedIdentityPath:
		s.serveManagedIdentity(x)
	case isGraphVersion(segs[0]):
		s.serveGraph(x, segs)
	case len(segs) >= 2 && segs[0] != "":
		s.serveAuthority(x, segs)
	default:
		http.NotFound(x.w, x.r)
	}
}

func (x *exchange) writeJSON(status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("graphsim: encoding response: %s", err)) // only our own maps are encoded
	}
	x.w.Header().Set("Content-Type", contentType)
	x.w.WriteHeader(status)
	_, _ = x.w.Write(b) // the client hanging up is not the emulator's concern
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
