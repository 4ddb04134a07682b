package graphsim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

const (
	secondApp    = "22222222-aaaa-bbbb-cccc-00000000000b"
	secondSecret = "second-app-secret"
)

// call makes one list call and returns the status and Retry-After.
func call(t *testing.T, s *graphsim.Server, token string) (int, string) {
	t.Helper()
	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors", token, "", "")
	if resp.StatusCode == http.StatusTooManyRequests {
		e := testkit.WantGraphError(t, resp, body, http.StatusTooManyRequests, "TooManyRequests")
		if e.Error.InnerError.Code != "activityLimitReached" {
			t.Errorf("innerError.code = %q, want activityLimitReached", e.Error.InnerError.Code)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// limitsSetup starts an emulator whose tenantID has a second app, on a
// stub clock 2s into a compressed 6s window.
func limitsSetup(t *testing.T, l graphsim.Limits) (s *graphsim.Server, first, second, other string, clock *testkit.Clock) {
	t.Helper()
	clock = testkit.NewClock(time.Date(2026, 11, 25, 10, 0, 2, 0, time.UTC))
	s, first = setup(t, func(s *graphsim.Server) {
		s.WithClock(clock.Now).AddTenant(tenantID, secondApp, secondSecret)
	})
	s.SetLimits(l)
	second = testkit.GraphToken(t, s, tenantID, secondApp, secondSecret)
	other = testkit.GraphToken(t, s, otherTenant, otherClient, otherSecret)
	return s, first, second, other, clock
}

func TestAppLimitPerTenant(t *testing.T) {
	t.Parallel()
	s, first, second, other, clock := limitsSetup(t, graphsim.Limits{AppPerWindow: 3, TenantPerWindow: 5, Window: 6 * time.Second})
	for i := range 3 {
		if st, _ := call(t, s, first); st != http.StatusOK {
			t.Fatalf("call %d: status %d, want 200", i+1, st)
		}
	}
	if st, ra := call(t, s, first); st != http.StatusTooManyRequests || ra != "4" {
		t.Fatalf("4th call of the app: %d Retry-After %q, want 429 and 4 (seconds left in the 6s window)", st, ra)
	}
	if st, _ := call(t, s, second); st != http.StatusOK {
		t.Errorf("another app of the tenant: status %d, want 200 (its own app budget)", st)
	}
	if st, _ := call(t, s, other); st != http.StatusOK {
		t.Errorf("another tenant: status %d, want 200", st)
	}
	clock.Set(time.Date(2026, 11, 25, 10, 0, 6, 0, time.UTC))
	if st, _ := call(t, s, first); st != http.StatusOK {
		t.Errorf("in the next window: status %d, want 200", st)
	}
	want := graphsim.Counts{Calls: 5, Throttled: 1}
	if got := s.AppCounts(tenantID, clientID); got != want {
		t.Errorf("AppCounts = %+v, want %+v", got, want)
	}
	if got := s.TenantCounts(tenantID); got != (graphsim.Counts{Calls: 6, Throttled: 1}) {
		t.Errorf("TenantCounts = %+v, want 6 calls, 1 throttled", got)
	}
	if got := s.AllCounts()[otherTenant]; got != (graphsim.Counts{Calls: 1}) {
		t.Errorf("AllCounts[other] = %+v, want 1 call", got)
	}
}

func TestTenantLimitAcrossApps(t *testing.T) {
	t.Parallel()
	s, first, second, other, _ := limitsSetup(t, graphsim.Limits{AppPerWindow: 3, TenantPerWindow: 5, Window: 6 * time.Second})
	for i, tok := range []string{first, first, first, second, second} {
		if st, _ := call(t, s, tok); st != http.StatusOK {
			t.Fatalf("call %d: status %d, want 200", i+1, st)
		}
	}
	st, ra := call(t, s, second)
	if st != http.StatusTooManyRequests || ra != "4" {
		t.Fatalf("6th call in the tenant (2nd app's 3rd): %d Retry-After %q, want 429 and 4", st, ra)
	}
	if st, _ := call(t, s, other); st != http.StatusOK {
		t.Errorf("another tenant: status %d, want 200", st)
	}
	if got := s.AppCounts(tenantID, secondApp); got != (graphsim.Counts{Calls: 3, Throttled: 1}) {
		t.Errorf("AppCounts(second) = %+v, want 3 calls, 1 throttled", got)
	}
}

func TestThrottledCallsDoNotCount(t *testing.T) {
	t.Parallel()
	s, first, _, _, clock := limitsSetup(t, graphsim.Limits{AppPerWindow: 1, Window: 6 * time.Second})
	call(t, s, first)
	for range 3 {
		if st, _ := call(t, s, first); st != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", st)
		}
	}
	clock.Set(time.Date(2026, 11, 25, 10, 0, 11, 999_000_000, time.UTC))
	if st, _ := call(t, s, first); st != http.StatusOK {
		t.Fatalf("next window: status %d, want 200", st)
	}
	if st, ra := call(t, s, first); st != http.StatusTooManyRequests || ra != "1" {
		t.Errorf("1ms before the window ends: %d Retry-After %q, want 429 and 1 (rounded up)", st, ra)
	}
}

func TestTenantLimitsOverrideServerLimits(t *testing.T) {
	t.Parallel()
	s, first, _, other, _ := limitsSetup(t, graphsim.Limits{AppPerWindow: 1})
	s.SetTenantLimits(tenantID, graphsim.Limits{})
	for range 3 {
		if st, _ := call(t, s, first); st != http.StatusOK {
			t.Fatalf("unlimited tenant: status %d", st)
		}
	}
	call(t, s, other)
	if st, ra := call(t, s, other); st != http.StatusTooManyRequests || ra != strconv.Itoa(58) {
		t.Errorf("other tenant under the server's 1 a minute: %d Retry-After %q, want 429 and 58", st, ra)
	}
}

func TestRecordingOff(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	s.SetRecording(false)
	before := len(s.Requests())
	testkit.GetConnector(t, s, token, connID)
	if got := len(s.Requests()); got != before {
		t.Errorf("Requests grew from %d to %d with recording off", before, got)
	}
	if got := s.TenantCounts(tenantID); got.Calls != 1 {
		t.Errorf("TenantCounts = %+v, want 1 call counted while not recording", got)
	}
}
