package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Received is one request a Receiver accepted.
type Received struct {
	Header http.Header
	Body   []byte
}

// Receiver is a real HTTPS server standing for an endpoint that code under
// test posts to (Slack, Teams, a webhook). Its check judges each POST (an
// error answers 400 and fails the test); while it is down it answers 503,
// as an endpoint that is away does.
type Receiver struct {
	Srv *httptest.Server

	got   chan Received
	mu    sync.Mutex
	down  bool
	check func(Received) error
}

// NewReceiver serves POST path, checked by check, until the test ends.
func NewReceiver(tb testing.TB, path string, check func(Received) error) *Receiver {
	tb.Helper()
	r := &Receiver{got: make(chan Received, 1000), check: check}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rc := Received{Header: req.Header.Clone(), Body: body}
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		if down {
			http.Error(w, "away", http.StatusServiceUnavailable)
			return
		}
		if err := r.check(rc); err != nil {
			tb.Errorf("receiver %s: %v\nbody: %s", path, err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got <- rc
		w.WriteHeader(http.StatusOK)
	})
	r.Srv = httptest.NewTLSServer(mux)
	tb.Cleanup(r.Srv.Close)
	return r
}

// SetDown makes the receiver answer 503 (true) or take requests again.
func (r *Receiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// Next waits for the next accepted request.
func (r *Receiver) Next(tb testing.TB) Received {
	tb.Helper()
	return Receive(tb, r.got, "the receiver got nothing")
}

// RequireNone fails the test when the receiver accepted a request that
// Next has not returned.
func (r *Receiver) RequireNone(tb testing.TB) {
	tb.Helper()
	select {
	case rc := <-r.got:
		tb.Fatalf("the receiver got one more request: %s", rc.Body)
	default:
	}
}
