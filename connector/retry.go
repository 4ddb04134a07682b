package connector

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certrotator/certrotator/internal/retry"
)

// callBackoff is the wait between retries within one call when Graph gave
// no Retry-After: 1s doubling to 30s, ±10%.
var callBackoff = retry.Backoff{Base: time.Second, Max: 30 * time.Second, Jitter: 0.1}

// serverErrorRetries bounds the retries of 500 and 502 within one call.
const serverErrorRetries = 2

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

// sleepCtx waits d or until ctx is done: the one cancellable sleep, on the
// wall clock (tests inject Config.SleepFunc).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if err := retry.Sleep(ctx, nil, d); err != nil {
		return ctx.Err()
	}
	return nil
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
