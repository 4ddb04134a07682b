package graphsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TB is the part of testing.TB that NewTest uses. Declaring it here keeps
// the testing package out of binaries that embed the emulator
// (cmd/graphsim, the demo); *testing.T and *testing.B satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
}

// shutdownGrace bounds how long Close waits for in-flight handlers before
// it cuts their connections.
const shutdownGrace = 10 * time.Second

// Server is the emulator. Build it with New or NewTest, configure it with the
// fluent setup methods (AddTenant, AddConnector, WithClock), which panic once
// the server has started, then call Start or StartOn. The knobs and the
// inspection methods are safe for concurrent use at any time.
type Server struct {
	mu       sync.Mutex
	tb       TB
	nowFunc  func() time.Time
	tenants  map[string]*tenant // keyed by lower-case tenant id
	tokens   map[string]*token
	requests []Request
	faults   faultState
	latency  time.Duration
	creds    credentialState
	paging   paging
	limits   Limits // for tenants without their own; zero: none
	noRecord bool   // SetRecording(false)
	pfx      pfxCache
	http2    bool // WithHTTP2

	started bool
	srv     *http.Server
	served  chan struct{} // closed when Serve returns
	url     string
	ca      *authority
	closed  chan struct{}
	once    sync.Once
}

// New returns an unstarted emulator with no tenants and the wall clock.
func New() *Server {
	return &Server{
		nowFunc: time.Now,
		tenants: map[string]*tenant{},
		tokens:  map[string]*token{},
		paging:  paging{size: PageSizeDefault},
		closed:  make(chan struct{}),
		served:  make(chan struct{}),
	}
}

// NewTest is New for a test: Start registers tb.Cleanup(s.Close).
func NewTest(tb TB) *Server {
	tb.Helper()
	s := New()
	s.tb = tb
	return s
}

// AddTenant registers an app (client id and secret) in a tenant, creating
// the tenant on first use; call it again to add more apps to the tenant. It
// panics after Start.
func (s *Server) AddTenant(tenantID, clientID, clientSecret string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("AddTenant")
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		t = &tenant{id: tenantID, clients: map[string]string{}, apps: map[string]*appUse{}, byID: map[string]*connector{}}
		s.tenants[strings.ToLower(tenantID)] = t
	}
	t.clients[clientID] = clientSecret
	return s
}

// AddConnector creates an API connector in a tenant already added with
// AddTenant. seed lists certificates already uploaded, oldest first; with no
// seed the connector uses basic authentication. Seeds do not count as
// Uploads. It panics after Start, for an unknown tenant or a duplicate id.
func (s *Server) AddConnector(tenantID, id, displayName string, seed ...Cert) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.setupTenantLocked("AddConnector", tenantID)
	if t.connector(id) != nil {
		panic(fmt.Sprintf("graphsim: AddConnector: connector %q already exists", id))
	}
	c := &connector{id: id, displayName: displayName, targetURL: "https://api.example.com/connectors/" + id}
	for _, ct := range seed {
		c.certs = append(c.certs, ct.truncated())
	}
	t.addConnector(c)
	return s
}

// WithClock replaces the clock (time.Now by default) used for certificate
// activity, rate-limit windows, error dates and the Date header. Token
// lifetimes use the wall clock, so that moving a stub clock does not
// invalidate tokens a client caches by real time; use ExpireTokens for that.
// It panics after Start.
func (s *Server) WithClock(now func() time.Time) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("WithClock")
	s.nowFunc = now
	return s
}

func (s *Server) mustNotBeStarted(method string) {
	if s.started {
		panic("graphsim: " + method + " called after Start")
	}
}

// setupTenantLocked is the tenant a setup method (named method) adds to:
// it panics after Start, or for a tenant AddTenant did not add. s.mu is
// held.
func (s *Server) setupTenantLocked(method, tenantID string) *tenant {
	s.mustNotBeStarted(method)
	return s.knownTenantLocked(method, tenantID)
}

// knownTenantLocked returns the tenant AddTenant added, or panics naming
// method. s.mu is held.
func (s *Server) knownTenantLocked(method, tenantID string) *tenant {
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		panic(fmt.Sprintf("graphsim: %s: unknown tenant %q; call AddTenant first", method, tenantID))
	}
	return t
}

// Start serves HTTPS on 127.0.0.1 at a free port and returns s. It panics
// when it cannot generate the certificates or listen; with NewTest it
// registers Close as a test cleanup.
func (s *Server) Start() *Server {
	if err := s.start(nil, "127.0.0.1"); err != nil {
		panic(err)
	}
	if s.tb != nil {
		s.tb.Cleanup(s.Close)
	}
	return s
}

// StartOn serves HTTPS on addr (host:port; port 0 picks one) until Close. The
// server certificate covers 127.0.0.1, ::1, localhost and the host of addr.
func (s *Server) StartOn(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		l.Close()
		return fmt.Errorf("parsing listen address %s: %w", addr, err)
	}
	if err := s.start(l, host); err != nil {
		l.Close()
		return err
	}
	return nil
}

func (s *Server) start(l net.Listener, host string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("Start")
	ca, err := newAuthority(host)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	if l == nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("listening on 127.0.0.1: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Clients that do not trust the CA cause handshake errors; they are
		// the client's problem, not noise for the test log.
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.pfx.conns.Add(1)
			}
		},
	}
	// Everything handlers read without the lock is set before they can run.
	s.srv, s.ca, s.started = srv, ca, true
	s.url = "https://" + reachableAddr(l.Addr())
	tlsConf := ca.serverTLS()
	if s.http2 {
		// srv.Serve configures HTTP/2 on *tls.Conns that negotiated it.
		tlsConf.NextProtos = []string{"h2", "http/1.1"}
	}
	tl := tls.NewListener(l, tlsConf)
	go func() {
		defer close(s.served)
		_ = srv.Serve(tl) // returns http.ErrServerClosed after Close
	}()
	return nil
}

// reachableAddr turns an unspecified listen address (0.0.0.0, ::) into one a
// local client can dial.
func reachableAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// URL is the base URL of the started server, https://127.0.0.1:PORT, with no
// trailing slash. It serves both the authority and Graph, so use it as the
// authority host and as the Graph root. It is "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// CACertPEM returns the PEM of the CA that signed the server certificate, or
// nil before Start.
func (s *Server) CACertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca.caPEM...)
}

// Client returns a new HTTP client that trusts the emulator's CA. It panics
// before Start.
func (s *Server) Client() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		panic("graphsim: Client called before Start")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.ca.clientTLS(), ForceAttemptHTTP2: true}}
}

// Close stops the server, cutting short requests held by SetLatency, and
// waits for in-flight handlers. It is idempotent and safe before Start.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			_ = srv.Close() // a handler outlived the grace period: cut it
		}
		<-s.served
	})
}

// now reads the injected clock. nowFunc is fixed before Start, so handlers
// may call it without the lock; the stub clock must be concurrency-safe.
func (s *Server) now() time.Time { return s.nowFunc() }
