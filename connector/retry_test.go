package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"Wed, 25 Nov 2026 10:00:07 GMT", 7 * time.Second, true},
		{"Wed, 25 Nov 2026 09:59:00 GMT", 0, true},
		{"Wednesday, 25-Nov-26 10:01:00 GMT", time.Minute, true},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %s, %t; want %s, %t", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		base time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {40, 30 * time.Second},
	}
	for _, tt := range tests {
		lo, mid, hi := pinned(tt.n, 0), pinned(tt.n, 0.5), pinned(tt.n, 0.999999)
		if mid != tt.base {
			t.Errorf("callBackoff(%d, 0.5) = %s, want %s", tt.n, mid, tt.base)
		}
		if want := tt.base * 9 / 10; lo != want {
			t.Errorf("backoff(%d, 0) = %s, want %s (-10%%)", tt.n, lo, want)
		}
		if hi > tt.base*11/10 || hi < tt.base*109/100 {
			t.Errorf("backoff(%d, ~1) = %s, want just under %s (+10%%)", tt.n, hi, tt.base*11/10)
		}
	}
}

func TestJudgeStatus(t *testing.T) {
	t.Parallel()
	conc := &GraphError{Code: "Directory_ConcurrencyViolation"}
	other := &GraphError{Code: "Request_BadRequest"}
	tests := []struct {
		name   string
		status int
		gerr   *GraphError
		st     callState
		safe   bool
		want   verdict
	}{
		{"429", 429, other, callState{}, false, verdictRetry},
		{"503", 503, other, callState{}, false, verdictRetry},
		{"504 safe", 504, other, callState{}, true, verdictRetry},
		{"504 upload", 504, other, callState{}, false, verdictTransient},
		{"409 concurrency", 409, conc, callState{}, false, verdictRetry},
		{"409 other", 409, other, callState{}, true, verdictDone},
		{"500 first", 500, other, callState{}, true, verdictRetry},
		{"502 third", 502, other, callState{serverErrors: 2}, true, verdictTransient},
		{"500 upload", 500, other, callState{}, false, verdictTransient},
		{"501", 501, other, callState{}, true, verdictTransient},
		{"401 first", 401, other, callState{}, true, verdictRefresh},
		{"401 after refresh", 401, other, callState{refreshed: true}, true, verdictDone},
		{"400", 400, other, callState{}, true, verdictDone},
		{"403", 403, other, callState{}, true, verdictDone},
		{"404", 404, other, callState{}, true, verdictDone},
	}
	for _, tt := range tests {
		st := tt.st
		if got := judgeStatus(tt.status, tt.gerr, &st, tt.safe); got != tt.want {
			t.Errorf("%s: judgeStatus = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestNotSent(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("post: %w", dial), true},
		{&net.DNSError{Err: "no such host", Name: "graph.invalid"}, true},
		{fmt.Errorf("post: %w", read), false},
		{http.ErrHandlerTimeout, false},
	}
	for _, tt := range tests {
		if got := notSent(tt.err); got != tt.want {
			t.Errorf("notSent(%q) = %t, want %t", tt.err, got, tt.want)
		}
	}
}

func TestSleepCtx(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx on a canceled context = %v, want context.Canceled", err)
	}
	if err := sleepCtx(t.Context(), time.Millisecond); err != nil {
		t.Errorf("sleepCtx(1ms) = %v, want nil", err)
	}
}

// pinned is callBackoff.Delay(n) with its jitter drawn as rnd.
func pinned(n int, rnd float64) time.Duration {
	b := callBackoff
	b.RandFunc = func() float64 { return rnd }
	return b.Delay(n)
}
