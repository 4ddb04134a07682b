package connector

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
)

func graphsimFault(status int, code, retryAfter string) graphsim.Fault {
	return graphsim.Fault{Status: status, Code: code, RetryAfter: retryAfter}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.sim.FailNext(1, graphsimFault(429, "", "1"))
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if w := h.waits.all(); len(w) != 1 || w[0] != time.Second {
		t.Errorf("waits = %v, want [1s]", w)
	}
	calls := h.graphCalls()
	if len(calls) != 2 || calls[0].Status != 429 || calls[1].Status != 200 {
		t.Fatalf("graph calls = %+v, want 429 then 200", calls)
	}
	if calls[0].ClientRequestID == calls[1].ClientRequestID {
		t.Errorf("both attempts sent client-request-id %s, want one per attempt", calls[0].ClientRequestID)
	}
	logs := h.logs.String()
	for _, want := range []string{"status=429", "retry_in=1s", "attempt=2", "call_id=" + calls[0].ClientRequestID} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.sim.FailNext(1, graphsimFault(503, "", testNow.Add(7*time.Second).Format(http.TimeFormat)))
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if w := h.waits.all(); len(w) != 1 || w[0] != 7*time.Second {
		t.Errorf("waits = %v, want [7s]", w)
	}
}

func TestTransientStatusesRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault graphsim.Fault
	}{
		{"503 without Retry-After", graphsimFault(503, "", "")},
		{"504", graphsimFault(504, "", "")},
		{"429 without Retry-After", graphsimFault(429, "", "")},
		{"409 Directory_ConcurrencyViolation", graphsimFault(409, "Directory_ConcurrencyViolation", "")},
		{"500", graphsimFault(500, "", "")},
		{"502", graphsimFault(502, "", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.sim.FailNext(1, tt.fault)
			if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
				t.Fatalf("Get: %v", err)
			}
			w := h.waits.all()
			if len(w) != 1 || w[0] < 900*time.Millisecond || w[0] > 1100*time.Millisecond {
				t.Errorf("waits = %v, want one backoff of 1s ±10%%", w)
			}
			if n := len(h.graphCalls()); n != 2 {
				t.Errorf("graph calls = %d, want 2", n)
			}
		})
	}
}

// TestGetFailsAfterGraphFaults: a conflict other than a concurrency one is
// permanent at once; 500s are retried twice, then the failure is
// transient.
func TestGetFailsAfterGraphFaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		n     int
		fault graphsim.Fault
		class jobs.Class
		code  string
		calls int
	}{
		{"conflict other than concurrency", 1, graphsimFault(409, "Request_MultipleObjectsWithSameKeyValue", ""), jobs.ClassPermanent, "Request_MultipleObjectsWithSameKeyValue", 1},
		{"server errors bounded", 10, graphsimFault(500, "", ""), jobs.ClassTransient, "generalException", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			h.sim.FailNext(tt.n, tt.fault)
			_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
			if f := jobs.AsFailure(err); f == nil || f.Class != tt.class || f.Code != tt.code {
				t.Fatalf("error = %v, want %s %s", err, tt.class, tt.code)
			}
			if n := len(h.graphCalls()); n != tt.calls {
				t.Errorf("graph calls = %d, want %d", n, tt.calls)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.MaxRetries = 2 })
	h.sim.FailNext(10, graphsimFault(503, "", "2"))
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	if f == nil || f.Class != jobs.ClassTransient || f.Code != "serviceNotAvailable" || f.RetryAfter != 2*time.Second {
		t.Fatalf("error = %v (%+v), want transient serviceNotAvailable with RetryAfter 2s", err, f)
	}
	if f.RequestID == "" || !errors.Is(err, &GraphError{Status: 503}) {
		t.Errorf("failure %+v lacks the request id or the GraphError", f)
	}
	if n, w := len(h.graphCalls()), h.waits.all(); n != 3 || len(w) != 2 || w[0] != 2*time.Second {
		t.Errorf("graph calls = %d, waits = %v; want 3 calls and 2 waits of 2s", n, w)
	}
}

func TestLongRetryAfterIsReturned(t *testing.T) {
	t.Parallel()
	h := setup(t)
	// One call a minute; the clock stands at the top of a minute, so the
	// second call is told to come back in 60s, longer than MaxRetryWait.
	h.sim.SetRateLimit(testTenantID, 1)
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("first Get: %v", err)
	}
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	if f == nil || f.Class != jobs.ClassTransient || f.RetryAfter != time.Minute || !errors.Is(err, ErrThrottled) {
		t.Fatalf("error = %v (%+v), want transient TooManyRequests with RetryAfter 1m", err, f)
	}
	if n, w := len(h.graphCalls()), h.waits.all(); n != 2 || len(w) != 0 {
		t.Errorf("graph calls = %d, waits = %v; want 2 calls and no wait", n, w)
	}
}

func TestCancelStopsRetries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	h := setup(t, func(c *Config) {
		c.SleepFunc = func(ctx context.Context, d time.Duration) error {
			cancel() // the worker shuts down while the client waits
			<-ctx.Done()
			return ctx.Err()
		}
	})
	h.sim.FailNext(10, graphsimFault(503, "", "1"))
	_, err := h.client.Get(ctx, testTenantKey, testConnectorID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	f := jobs.AsFailure(err)
	if f.Class != jobs.ClassTransient || f.Code != "canceled" || f.RequestID == "" {
		t.Errorf("failure = %+v, want transient canceled with the last request id", f)
	}
	if n := len(h.graphCalls()); n != 1 {
		t.Errorf("graph calls = %d, want 1", n)
	}
}

func TestAmbiguousUploadFailureNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 504} {
		h := setup(t)
		b := newBundle(t, pkcs12.LegacyDES, testPassword)
		h.sim.FailNext(1, graphsimFault(status, "", ""))
		_, err := h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password)
		if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassTransient {
			t.Fatalf("%d: error = %v, want transient", status, err)
		}
		if n := len(h.graphCalls()); n != 1 {
			t.Errorf("%d: graph calls = %d, want 1: a retry could upload twice", status, n)
		}
	}
}

func TestUploadRetriedWhenSurelyNotApplied(t *testing.T) {
	t.Parallel()
	h := setup(t)
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	h.sim.FailNext(2, graphsimFault(429, "", "3"))
	st, err := h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if _, ok := st.Has(b.Thumbprint); !ok {
		t.Errorf("Upload answered %+v, want %s in it", st.Certificates, b.Thumbprint)
	}
	if up, w := h.sim.Uploads(testTenantID, testConnectorID), h.waits.all(); len(up) != 1 || len(w) != 2 {
		t.Errorf("uploads = %v, waits = %v; want one upload after two waits", up, w)
	}
}

func TestNetworkErrorsRetried(t *testing.T) {
	t.Parallel()
	dead := closedAddr(t)
	h := setup(t, func(c *Config) {
		c.MaxRetries = 2
		c.Transport = &redirect{next: c.Transport, host: dead, graph: true}
	})
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	_, getErr := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	_, upErr := h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password)
	for _, err := range []error{getErr, upErr} {
		if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassTransient || f.Code != CodeNetwork {
			t.Errorf("error = %v, want transient network", err)
		}
	}
	if w := h.waits.all(); len(w) != 4 {
		t.Errorf("waits = %v, want 2 per call: a refused dial is safe to retry even for an upload", w)
	}
}

// redirect sends Graph API calls (graph true) or authority calls (graph
// false) to host, a closed port, leaving the others to the emulator.
type redirect struct {
	next  http.RoundTripper
	host  string
	graph bool
}

func (r *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/v1.0/") == r.graph {
		req = req.Clone(req.Context())
		req.URL.Host = r.host
	}
	return r.next.RoundTrip(req)
}

func TestAuthorityUnreachableIsTransient(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) {
		c.MaxRetries = 1
		c.Transport = &redirect{next: c.Transport, host: closedAddr(t)}
	})
	_, err := h.client.Get(t.Context(), testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	var ae *AuthError
	if f == nil || f.Class != jobs.ClassTransient || f.Code != CodeTokenUnavailable || !errors.As(err, &ae) {
		t.Fatalf("error = %v, want a transient token_unavailable AuthError", err)
	}
	if n, w := len(h.graphCalls()), h.waits.all(); n != 0 || len(w) != 1 {
		t.Errorf("graph calls = %d, waits = %v; want none and one retry", n, w)
	}
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
