package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/faultproxy"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// faultStack is a stack whose links can fail: Vault is reached through a
// faultproxy (vaultLink), and Graph through a graphTap on the client side.
type faultStack struct {
	*stack
	vaultLink *faultproxy.Proxy
	tap       *graphTap
}

// setupFaults is setup with the fault points in place.
func setupFaults(t *testing.T) *faultStack {
	t.Helper()
	fs := &faultStack{}
	fs.stack = newStack(t, nil, stackLinks{
		vault: func(addr string) string {
			fs.vaultLink = newProxy(t, strings.TrimPrefix(addr, "http://"))
			return "http://" + fs.vaultLink.Addr()
		},
		graph: func(base http.RoundTripper) http.RoundTripper {
			fs.tap = &graphTap{base: base, held: make(chan struct{}, 16), abandoned: make(chan struct{}, 16)}
			return fs.tap
		},
	})
	return fs
}

func newProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// graphTap is the Graph client's transport with fault points on the upload
// calls (uploadClientCertificate, and a key set's uploadPkcs12): it can hold uploads before they are sent
// (a slow link: a held upload whose context ends is never sent), lose the
// response of uploads Graph applied, and keeps every upload body it sent, as
// Graph received it.
type graphTap struct {
	base      http.RoundTripper
	held      chan struct{} // one value per upload that started waiting
	abandoned chan struct{} // one value per held upload given up unsent

	mu     sync.Mutex
	hold   chan struct{} // non-nil: uploads wait until it is closed
	drop   int           // responses of applied uploads still to lose
	bodies [][]byte
}

// holdUploads makes later uploads wait until the returned func is called.
func (g *graphTap) holdUploads() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.hold = ch
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.hold = nil
			g.mu.Unlock()
			close(ch)
		})
	}
}

// dropResponses loses the responses of the next n applied uploads.
func (g *graphTap) dropResponses(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.drop = n
}

// uploadBodies returns the upload request bodies sent so far.
func (g *graphTap) uploadBodies() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.bodies...)
}

// waitHeld waits until an upload is held, failing at the deadline.
func (g *graphTap) waitHeld(t *testing.T) {
	t.Helper()
	await(t, g.held, "no upload started")
}

func isUpload(r *http.Request) bool {
	path := strings.ToLower(r.URL.Path)
	return r.Method == http.MethodPost && (strings.HasSuffix(path, "/uploadclientcertificate") || strings.HasSuffix(path, "/uploadpkcs12"))
}

// errResetAfterSend is what a client sees when the connection dies after
// the request went out: it cannot know whether Graph applied it.
var errResetAfterSend = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

func (g *graphTap) RoundTrip(r *http.Request) (*http.Response, error) {
	if !isUpload(r) {
		return g.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold != nil {
		select {
		case g.held <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
			select {
			case g.abandoned <- struct{}{}:
			default:
			}
			return nil, r.Context().Err() // never sent
		}
	}
	g.mu.Lock()
	g.bodies = append(g.bodies, body)
	g.mu.Unlock()
	resp, err := g.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	lose := g.drop > 0 && resp.StatusCode == http.StatusOK
	if lose {
		g.drop--
	}
	g.mu.Unlock()
	if lose {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return nil, errResetAfterSend
	}
	return resp, nil
}

// finals waits until the request has a final outcome event and returns
// every final one seen (a test asserts there is exactly one per connector).
func finals(t *testing.T, c *workertest.Events, requestID string) []jobs.Outcome {
	t.Helper()
	return finalsWithin(t, c, requestID, eventTimeout)
}

// finalsN waits for n final outcomes of the request (one per connector) and
// returns every final one seen.
func finalsN(t *testing.T, c *workertest.Events, requestID string, n int) []jobs.Outcome {
	t.Helper()
	return waitFinals(t, c, requestID, n, eventTimeout)
}

// finalsWithin is finals with its own deadline, for faults whose recovery
// waits out a lock TTL.
func finalsWithin(t *testing.T, c *workertest.Events, requestID string, d time.Duration) []jobs.Outcome {
	t.Helper()
	return waitFinals(t, c, requestID, 1, d)
}

// waitFinals returns every final outcome of the request once there are at
// least n, waking on each event the collector gets; it fails the test when
// d passes first.
func waitFinals(t *testing.T, c *workertest.Events, requestID string, n int, d time.Duration) []jobs.Outcome {
	t.Helper()
	var out []jobs.Outcome
	if !c.Until(d, func() bool { out = finalsOf(c.Of(requestID)); return len(out) >= n }) {
		t.Fatalf("%d of %d final events for request %s after %s; events so far: %+v", len(out), n, requestID, d, c.Of(requestID))
	}
	return out
}

// finalsOf keeps the final outcomes of evs.
func finalsOf(evs []contract.Event) []jobs.Outcome {
	var out []jobs.Outcome
	for _, ev := range evs {
		if ev.Data.Final {
			out = append(out, ev.Data)
		}
	}
	return out
}

// code is an outcome's error code, "" when it has none.
func code(o jobs.Outcome) string {
	if o.Error == nil {
		return ""
	}
	return o.Error.Code
}
