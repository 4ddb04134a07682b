package graphsim

import (
	"strings"
	"time"
)

// Limits are throttling limits as the emulator enforces them: counts of
// authenticated Graph API calls in fixed windows aligned on the injected
// clock. A call over either limit is answered 429 TooManyRequests with
// Retry-After set to the whole seconds left in the window that refused it,
// and does not count against either limit.
type Limits struct {
	// AppPerWindow bounds the calls one app makes in one tenant per Window
	// (Graph: 200 a minute for API connectors). 0 means no limit.
	AppPerWindow int
	// TenantPerWindow bounds the calls of every app together in one tenant
	// per Window (Graph: 300 a minute for API connectors). 0 means no limit.
	TenantPerWindow int
	// Window is the period the counts cover. Benchmarks compress it (200 per
	// 6s instead of per minute) to keep runs short: the ratio is what counts.
	// Defaults to a minute.
	Window time.Duration
}

// GraphLimits are Graph's documented limits for identityApiConnector: 200
// requests a minute per app per tenant and 300 a minute per tenant.
var GraphLimits = Limits{AppPerWindow: 200, TenantPerWindow: 300, Window: time.Minute}

func (l Limits) window() time.Duration {
	if l.Window <= 0 {
		return time.Minute
	}
	return l.Window
}

// SetLimits enforces l in every tenant that has no limits of its own
// (SetTenantLimits); Limits{} turns them off, which is the default.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// SetTenantLimits enforces l in one tenant instead of the server's limits.
// Unknown tenants are ignored.
func (s *Server) SetTenantLimits(tenantID string, l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(tenantID)]; t != nil {
		t.limits = &l
	}
}

// SetRateLimit allows perMinute calls per tenant per minute, across apps,
// with no per-app limit: SetTenantLimits(tenantID, Limits{TenantPerWindow:
// perMinute}). perMinute <= 0 removes the tenant's limits. Unknown tenants
// are ignored.
func (s *Server) SetRateLimit(tenantID string, perMinute int) {
	s.SetTenantLimits(tenantID, Limits{TenantPerWindow: max(perMinute, 0)})
}

// Counts are the authenticated Graph API calls the emulator answered for a
// tenant, or for one app in a tenant.
type Counts struct {
	Calls     int // every call, throttled ones included
	Throttled int // calls answered 429 by the limits (FailNext faults excluded)
}

// TenantCounts returns the calls made in a tenant by every app; zero for an
// unknown tenant.
func (s *Server) TenantCounts(tenantID string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(tenantID)]; t != nil {
		return t.counts
	}
	return Counts{}
}

// AppCounts returns the calls one app made in a tenant; zero when there
// were none.
func (s *Server) AppCounts(tenantID, clientID string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(tenantID)]; t != nil && t.apps[clientID] != nil {
		return t.apps[clientID].counts
	}
	return Counts{}
}

// AllCounts returns TenantCounts of every tenant, keyed by the tenant id as
// given to AddTenant.
func (s *Server) AllCounts() map[string]Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Counts, len(s.tenants))
	for _, t := range s.tenants {
		out[t.id] = t.counts
	}
	return out
}

// appUse is one app's use of one tenant.
type appUse struct {
	window fixedWindow
	counts Counts
}

// fixedWindow counts the calls of the window that started at start.
type fixedWindow struct {
	start time.Time
	used  int
}

// wait moves the window to the one holding now and returns how long until
// it ends if it is full, 0 if a call fits.
func (w *fixedWindow) wait(now time.Time, size time.Duration, limit int) time.Duration {
	if start := now.Truncate(size); !start.Equal(w.start) {
		w.start, w.used = start, 0
	}
	if limit <= 0 || w.used < limit {
		return 0
	}
	return w.start.Add(size).Sub(now)
}

// refusal says which limit refused a call and for how long.
type refusal struct {
	wait   time.Duration
	tenant bool // the tenant-wide limit (else the app's)
}

// admit counts one call of app in t at now against both limits. It
// returns nil when the call may proceed.
func (s *Server) admit(t *tenant, app string, now time.Time) *refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits
	if t.limits != nil {
		l = *t.limits
	}
	a := t.apps[app]
	if a == nil {
		a = &appUse{}
		t.apps[app] = a
	}
	t.counts.Calls++
	a.counts.Calls++
	size := l.window()
	tw := t.window.wait(now, size, l.TenantPerWindow)
	aw := a.window.wait(now, size, l.AppPerWindow)
	if tw == 0 && aw == 0 {
		t.window.used++
		a.window.used++
		return nil
	}
	t.counts.Throttled++
	a.counts.Throttled++
	return &refusal{wait: max(tw, aw), tenant: tw >= aw}
}

// retryAfterSeconds renders a wait as Retry-After's whole seconds, rounded
// up and at least 1, so that a client that waits it finds a new window.
func retryAfterSeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// tokenApp returns the client id a bearer token was issued to, "" when
// the token is unknown.
func (s *Server) tokenApp(header string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenAppLocked(header)
}

// tokenAppLocked is tokenApp with s.mu held.
func (s *Server) tokenAppLocked(header string) string {
	_, access, _ := strings.Cut(header, " ")
	if tok := s.tokens[strings.TrimSpace(access)]; tok != nil {
		return tok.app
	}
	return ""
}
