package graphsim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestActiveCertificateRule(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cert := func(n int, from, to time.Duration) graphsim.Cert {
		return graphsim.Cert{Thumbprint: fmt.Sprintf("%040X", n), NotBefore: t0.Add(from), NotAfter: t0.Add(to)}
	}
	tests := []struct {
		name   string
		seed   []graphsim.Cert
		at     time.Time
		active int // index in seed, -1 for none
	}{
		{"newest valid wins", []graphsim.Cert{cert(1, -10*day, 10*day), cert(2, -day, 30*day)}, t0, 1},
		{"newest valid wins even if it expires first", []graphsim.Cert{cert(1, -10*day, 90*day), cert(2, -day, 5*day)}, t0, 1},
		{"expired newest falls back", []graphsim.Cert{cert(1, -10*day, 10*day), cert(2, -20*day, -day)}, t0, 0},
		{"future newest is staged", []graphsim.Cert{cert(1, -10*day, 10*day), cert(2, day, 30*day)}, t0, 0},
		{"staged newest activates at notBefore", []graphsim.Cert{cert(1, -10*day, 10*day), cert(2, day, 30*day)}, t0.Add(day), 1},
		{"notAfter itself is expired", []graphsim.Cert{cert(1, -10*day, 10*day), cert(2, -day, 0)}, t0, 0},
		{"all expired", []graphsim.Cert{cert(1, -10*day, -5*day), cert(2, -9*day, -day)}, t0, -1},
		{"none yet valid", []graphsim.Cert{cert(1, day, 10*day)}, t0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(tt.at)
			s, token := setup(t, func(s *graphsim.Server) {
				s.WithClock(clock.Now).AddConnector(tenantID, "rule", "rule-api", tt.seed...)
			})
			states := s.Certificates(tenantID, "rule")
			c := getConnectorID(t, s, token, "rule")
			for i, st := range states {
				if st.IsActive != (i == tt.active) || c.Authentication.List[i].IsActive != st.IsActive {
					t.Errorf("cert %d: Certificates IsActive %v, GET isActive %v, want active index %d",
						i, st.IsActive, c.Authentication.List[i].IsActive, tt.active)
				}
			}
		})
	}
}

func TestActiveFollowsTheClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := testkit.NewClock(t0)
	old := graphsim.Cert{Thumbprint: "01" + fmt.Sprintf("%038d", 0), NotBefore: t0.AddDate(0, -6, 0), NotAfter: t0.AddDate(0, 0, 7)}
	staged := graphsim.Cert{Thumbprint: "02" + fmt.Sprintf("%038d", 0), NotBefore: t0.AddDate(0, 0, 1), NotAfter: t0.AddDate(1, 0, 0)}
	s, _ := setup(t, func(s *graphsim.Server) {
		s.WithClock(clock.Now).AddConnector(tenantID, "clock", "clock-api", old, staged)
	})
	if st := s.Certificates(tenantID, "clock"); !st[0].IsActive || st[1].IsActive {
		t.Fatalf("at t0: %+v", st)
	}
	clock.Set(t0.AddDate(0, 0, 2))
	if st := s.Certificates(tenantID, "clock"); st[0].IsActive || !st[1].IsActive {
		t.Errorf("after notBefore: %+v", st)
	}
}

func getConnectorID(t *testing.T, s *graphsim.Server, token, id string) testkit.ConnectorJSON {
	t.Helper()
	resp, body := testkit.GraphDo(t, s, "GET", "/v1.0/identity/apiConnectors/"+id, token, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", id, resp.StatusCode, body)
	}
	var c testkit.ConnectorJSON
	testkit.MustJSON(t, body, &c)
	return c
}
