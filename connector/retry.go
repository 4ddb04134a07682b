package connector

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff bounds when Graph gave no Retry-After.
const (
	backoffStart = time.Second
	backoffCap   = 30 * time.Second
	backoffJit   = 0.1 // ±10 %
	// serverErrorRetries bounds the retries of 500 and 502 within one call.
	serverErrorRetries = 2
)

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date, relative to now. A date in the past means no wait. ok is false
// when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// backoff returns the wait before retry n (1-based): 1s doubling up to 30s,
// with ±10 % jitter drawn from rnd (a value in [0, 1)).
func backoff(n int, rnd float64) time.Duration {
	d := backoffStart
	for i := 1; i < n && d < backoffCap; i++ {
		d *= 2
	}
	d = min(d, backoffCap)
	return time.Duration(float64(d) * (1 - backoffJit + 2*backoffJit*rnd))
}

// jitter draws backoff's random input; backoff itself stays a pure
// function that tests check at the ends of the range.
func jitter() float64 { return rand.Float64() }

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// verdict is what to do after one attempt's answer.
type verdict int

const (
	verdictDone      verdict = iota // success, or a failure not worth retrying here
	verdictRetry                    // wait, then try again
	verdictRefresh                  // refresh the token, then try again at once
	verdictTransient                // give up here, but a later run may succeed
)

// judgeStatus decides about a non-2xx answer, counting in st the 500 and
// 502 it lets through to a retry. safe is false for calls
// whose effect may have happened although the answer was an error (an
// upload that timed out at a gateway): those are not retried here, since
// only a fresh read by the caller can tell whether they took effect.
func judgeStatus(status int, gerr *GraphError, st *callState, safe bool) verdict {
	switch status {
	case http.StatusUnauthorized:
		if st.refreshed {
			return verdictDone
		}
		return verdictRefresh
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return verdictRetry
	case http.StatusGatewayTimeout:
		if !safe {
			return verdictTransient
		}
		return verdictRetry
	case http.StatusConflict:
		if gerr.Is(ErrConcurrencyViolation) {
			return verdictRetry
		}
		return verdictDone
	case http.StatusInternalServerError, http.StatusBadGateway:
		if !safe || st.serverErrors >= serverErrorRetries {
			return verdictTransient
		}
		st.serverErrors++
		return verdictRetry
	}
	if status >= 500 {
		return verdictTransient
	}
	return verdictDone
}

// notSent reports whether a transport error happened before the request
// left this process (no connection, no name, TLS refused), so that
// retrying cannot repeat an effect.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
