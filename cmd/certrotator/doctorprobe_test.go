package main

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/probe/probetest"
)

// TestDoctorRunsProbes: doctor runs a job's probe with the bundle from
// Vault: a pinning API that does not know the thumbprint fails the check
// with the fix; an API that needs no certificate is a warning.
func TestDoctorRunsProbes(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	base := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}})
	for _, tc := range []struct {
		name    string
		api     *probetest.API
		verdict string
		detail  string
	}{
		{"pinning", probetest.Pinning(t), verdictFail, "rejects certificate"},
		{"open", probetest.Open(t), verdictWarn, "also a call without one"},
	} {
		ca := testkit.WriteFile(t, t.TempDir(), "api-ca.pem", string(tc.api.CAPEM()))
		cfg := strings.Replace(readFileT(t, base), "    source: {path: b2c/doctor}\n",
			"    source: {path: b2c/doctor}\n    probe: {url: "+tc.api.URL()+", ca_file: "+ca+"}\n", 1)
		path := testkit.WriteFile(t, t.TempDir(), "config.yaml", cfg)
		_, ff, errOut := doctorLines(t, "-c", path)
		f, ok := find(ff, "probe", s.conn)
		if !ok || f.Verdict != tc.verdict || !strings.Contains(f.Detail, tc.detail) {
			t.Errorf("%s: probe finding %+v (found %v), want %s %q; stderr %q\n%s", tc.name, f, ok, tc.verdict, tc.detail, errOut, dump(ff))
		}
		if tc.verdict == verdictFail && !strings.Contains(f.Fix, "trust the new certificate") {
			t.Errorf("%s: fix %q does not say what to do", tc.name, f.Fix)
		}
	}
}

// TestPlanShowsProbeVerdict: plan's table says what the probe found.
func TestPlanShowsProbeVerdict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    *jobs.ProbeInfo
		want string
	}{
		{nil, ""},
		{&jobs.ProbeInfo{URL: "https://api.example/x", Accepted: true, Answer: "HTTP 400"}, "; probe: accepted (HTTP 400)"},
		{&jobs.ProbeInfo{URL: "https://api.example/x", Answer: "TLS alert bad certificate", Error: &jobs.ErrorInfo{Code: jobs.CodeAPIRejectsCertificate}},
			"; probe: rejected by https://api.example/x (TLS alert bad certificate)"},
		{&jobs.ProbeInfo{URL: "https://api.example/x", Error: &jobs.ErrorInfo{Code: jobs.CodeProbeFailed}}, "; probe: no verdict from https://api.example/x (probe_failed)"},
		{&jobs.ProbeInfo{Accepted: true, Answer: "HTTP 200", Unauthenticated: true}, "; probe: accepted (HTTP 200), but the API also accepts calls without a certificate"},
	} {
		if got := probeText(tc.p); got != tc.want {
			t.Errorf("probeText(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
