// Package probetest starts real HTTPS APIs that check client certificates
// the ways APIs behind B2C connectors do: mutual TLS against a CA, pinned
// thumbprints, App Service's X-ARR-ClientCert forwarding, and none at all.
// Tests point a connector's targetUrl (graphsim.SetTargetURL) at them.
package probetest

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// ARRClientCertHeader is the header in which Azure App Service forwards the
// client certificate (base64 of its DER) to the application behind its
// TLS front.
const ARRClientCertHeader = "X-ARR-ClientCert"

// API is a started HTTPS API.
type API struct {
	*httptest.Server
	calls atomic.Int64

	mu     sync.Mutex
	pinned map[string]bool
}

// URL is the API's base URL, for a connector's targetUrl.
func (a *API) URL() string { return a.Server.URL + "/api/signup" }

// Calls counts the requests that reached the API's handler.
func (a *API) Calls() int64 { return a.calls.Load() }

// RootCAs trusts the API's server certificate.
func (a *API) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.Certificate())
	return pool
}

// CAPEM is the API's server certificate as PEM, for a probe's ca_file.
func (a *API) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw})
}

// Pin makes a pinning API accept the thumbprint (SHA-1 of the DER, hex,
// any case), as its owner does when told of the new certificate.
func (a *API) Pin(thumbprint string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pinned[strings.ToUpper(thumbprint)] = true
}

func (a *API) isPinned(der []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pinned[Thumbprint(der)]
}

// Thumbprint is the SHA-1 of der as 40 upper-case hex characters.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func start(tb testing.TB, a *API, h http.Handler, tc *tls.Config) *API {
	tb.Helper()
	a.pinned = map[string]bool{}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	a.TLS = tc
	a.StartTLS()
	tb.Cleanup(a.Close)
	return a
}

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"version":"1.0.0","action":"Continue"}`))
}

// VerifyingCA requires a client certificate that chains to ca, as an API
// with its own mutual TLS (or API Management's validate-client-certificate
// against its CA certificates) does: anything else ends the handshake.
func VerifyingCA(tb testing.TB, ca *x509.Certificate) *API {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return start(tb, &API{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) }),
		&tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
}

// Pinning asks for any client certificate and answers 403 unless its
// thumbprint was pinned with Pin (an API that pins thumbprints).
func Pinning(tb testing.TB) *API {
	a := &API{}
	return start(tb, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || !a.isPinned(r.TLS.PeerCertificates[0].Raw) {
			http.Error(w, `{"error":"client certificate not trusted"}`, http.StatusForbidden)
			return
		}
		ok(w)
	}), &tls.Config{ClientAuth: tls.RequireAnyClientCert})
}

// Open needs no client certificate at all.
func Open(tb testing.TB) *API {
	return start(tb, &API{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) }), &tls.Config{})
}

// AppService is App Service's shape: a TLS front that requests (but does not
// verify) a client certificate and forwards it to the application in
// X-ARR-ClientCert; the application, behind it over plain HTTP, checks that
// header's thumbprint against its pins and answers 403 otherwise. Pin the
// accepted thumbprints on the returned API.
func AppService(tb testing.TB) *API {
	tb.Helper()
	a := &API{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		der, err := base64.StdEncoding.DecodeString(r.Header.Get(ARRClientCertHeader))
		if err != nil || len(der) == 0 || !a.isPinned(der) {
			http.Error(w, `{"error":"X-ARR-ClientCert missing or not trusted"}`, http.StatusForbidden)
			return
		}
		ok(w)
	}))
	tb.Cleanup(backend.Close)
	to, err := url.Parse(backend.URL)
	if err != nil {
		tb.Fatalf("parsing the backend URL: %v", err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(to)
		// The front never passes on a header the caller sent itself.
		pr.Out.Header.Del(ARRClientCertHeader)
		if tls := pr.In.TLS; tls != nil && len(tls.PeerCertificates) > 0 {
			pr.Out.Header.Set(ARRClientCertHeader, base64.StdEncoding.EncodeToString(tls.PeerCertificates[0].Raw))
		}
	}}
	return start(tb, a, proxy, &tls.Config{ClientAuth: tls.RequestClientCert})
}
