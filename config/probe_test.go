package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// probeBlock adds a probe to the valid config's job; its probe key is on
// line 19, url on 20 … timeout on 24.
const probeBlock = `source: {path: b2c/contoso-api}
    probe:
      url: https://api.contoso.example/signup
      method: put
      body: '{"probe":true}'
      accept_status: [200, 400]
      timeout: 5s`

func TestParseProbe(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "source: {path: b2c/contoso-api}", probeBlock), nil)
	p := c.Jobs[0].Probe
	if p == nil {
		t.Fatal("probe not read")
	}
	if p.URL != "https://api.contoso.example/signup" || p.Method != "PUT" || p.Body != `{"probe":true}` ||
		!slices.Equal(p.AcceptStatus, []int{200, 400}) || p.Timeout != 5*time.Second || p.CAFile != "" {
		t.Errorf("probe = %+v", *p)
	}
}

func TestParseProbeDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "source: {path: b2c/contoso-api}", "source: {path: b2c/contoso-api}\n    probe: {}"), nil)
	p := c.Jobs[0].Probe
	if p == nil || p.URL != "" || p.Method != "POST" || p.Body != "{}" || p.AcceptStatus != nil || p.Timeout != jobs.ProbeTimeoutDefault {
		t.Errorf("defaults = %+v", p)
	}
	if plain := mustParse(t, valid, nil); plain.Jobs[0].Probe != nil {
		t.Errorf("a job without probe got %+v", plain.Jobs[0].Probe)
	}
}

func TestParseProbeCAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := testkit.WriteFile(t, dir, "ca.txt", "not a certificate\n")
	for _, tt := range []struct{ file, message string }{
		{notPEM, "holds no PEM certificate"},
		{filepath.Join(dir, "missing.pem"), "reading"},
	} {
		data := edit(t, "source: {path: b2c/contoso-api}", "source: {path: b2c/contoso-api}\n    probe:\n      ca_file: "+tt.file)
		if !hasProblem(problems(t, data, nil), 20, "jobs[0].probe.ca_file", tt.message) {
			t.Errorf("ca_file %s: no problem %q at line 20", tt.file, tt.message)
		}
	}
}

func TestParseProbeRules(t *testing.T) {
	t.Parallel()
	tests := []editCase{
		{"plain http", "url: https://api.contoso.example/signup", "url: http://api.contoso.example/signup", 20, "jobs[0].probe.url", `"http://api.contoso.example/signup" is not an https:// URL`},
		{"method", "method: put", "method: TRACE", 21, "jobs[0].probe.method", `"TRACE" is not one of`},
		{"status out of range", "[200, 400]", "[200, 999]", 23, "jobs[0].probe.accept_status[1]", `"999" is not an HTTP status`},
		{"status not a number", "[200, 400]", "[200, ok]", 23, "jobs[0].probe.accept_status[1]", `"ok" is not an HTTP status`},
		{"empty accept_status", "[200, 400]", "[]", 23, "jobs[0].probe.accept_status", "is empty"},
		{"timeout zero", "timeout: 5s", "timeout: 0s", 24, "jobs[0].probe.timeout", "0s must be more than 0"},
		{"timeout long", "timeout: 5s", "timeout: 1h", 24, "jobs[0].probe.timeout", "1h0m0s must be more than 0 and at most 2m0s"},
		{"unknown key", "timeout: 5s", "timeout: 5s\n      retries: 3", 25, "jobs[0].probe.retries", "unknown key"},
	}
	base := edit(t, "source: {path: b2c/contoso-api}", probeBlock)
	wantEditProblems(t, base, tests)
}

func hasProblem(got []Problem, line int, key, message string) bool {
	for _, p := range got {
		if p.Key == key && p.Line == line && strings.Contains(p.Message, message) {
			return true
		}
	}
	return false
}
