package connector

import (
	"net/http"
	"net/http/httptrace"
	"sync"
)

// warmTransport lets one request through to a host the transport has not
// connected to yet, and holds the others for that host until it has its
// connection. Go's transport cannot know that a host speaks HTTP/2 before
// a TLS handshake has told it, so a burst of calls to a new host (the
// worker's first tick: 200 tenants' token calls and 64 runs' Graph calls
// at once) dials one connection per call, each a TLS handshake with its
// key shares and buffers, and all but one are closed again once HTTP/2
// is known: hundreds of handshakes, and the worker's peak memory, for a
// host one connection serves. Once the first connection is made the host
// is warm and requests go straight through; over HTTP/1.1 (a
// TLS-inspecting proxy) they then dial as before, up to the transport's
// MaxConnsPerHost.
type warmTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts map[string]*warming // by scheme://host; nil value: warm
}

// warming is a host's first connection under way.
type warming struct {
	once sync.Once
	done chan struct{} // closed when the first request has a connection, or has failed
}

func (w *warming) release() { w.once.Do(func() { close(w.done) }) }

func newWarmTransport(base http.RoundTripper) *warmTransport {
	return &warmTransport{base: base, hosts: map[string]*warming{}}
}

// RoundTrip sends req through the base transport, first waiting, when
// another request is making the first connection to req's host, until it
// has made it.
func (t *warmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.URL.Scheme + "://" + req.URL.Host
	t.mu.Lock()
	w, seen := t.hosts[key]
	switch {
	case seen && w == nil: // warm
		t.mu.Unlock()
		return t.base.RoundTrip(req)
	case seen: // another request is connecting: wait for it, then go
		t.mu.Unlock()
		select {
		case <-w.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		return t.base.RoundTrip(req)
	}
	w = &warming{done: make(chan struct{})}
	t.hosts[key] = w
	t.mu.Unlock()
	connected := false
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		t.mu.Lock()
		connected = true
		t.hosts[key] = nil
		t.mu.Unlock()
		w.release()
	}}
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	t.mu.Lock()
	if !connected && t.hosts[key] == w {
		// No connection (the host is down, the request was cancelled):
		// the waiters go on their own, and the next arrival tries again.
		delete(t.hosts, key)
	}
	t.mu.Unlock()
	w.release()
	return resp, err
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *warmTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
