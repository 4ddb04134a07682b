package graphsim

import (
	"slices"
	"time"
)

type faultState struct {
	left  int
	fault Fault
}

// FailNext makes the next n Graph API calls (token calls excluded) answer f
// in Graph's error shape, before authentication is checked. A new call
// replaces what is left of the previous one; n <= 0 cancels it.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{left: max(n, 0), fault: f.withDefaults()}
}

// takeFault consumes one pending fault, if any.
func (s *Server) takeFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.left == 0 {
		return Fault{}, false
	}
	s.faults.left--
	return s.faults.fault, true
}

// SetLatency delays every Graph API call (token calls excluded) by d before
// it is handled; 0 turns the delay off. A client that gives up, or Close,
// cuts the delay short.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// delay waits out the latency knob; it reports false if the client or the
// server went away first.
func (s *Server) delay(x *exchange) bool {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

// ExpireTokens makes every token issued so far expired: Graph answers 401
// InvalidAuthenticationToken to them. Tokens issued afterwards are valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// SetRecording turns the request record that Requests returns on (the
// default) or off. A benchmark of thousands of calls turns it off so that
// the emulator's memory stays flat; Counts go on counting.
func (s *Server) SetRecording(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRecord = !on
}

// IssuedTokens returns every access token issued so far (client
// credentials, assertions and the managed identity endpoint alike), sorted,
// so that a leak test can look for the exact tokens a client was given.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for access := range s.tokens {
		out = append(out, access)
	}
	slices.Sort(out)
	return out
}

// ForgetRequests drops the log Requests reads, so that a long run (the
// soak) measures its own memory, not the emulator's growing history.
// Certificates, uploads and tokens are kept.
func (s *Server) ForgetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}
