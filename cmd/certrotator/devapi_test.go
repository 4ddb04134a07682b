package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
)

// TestDevDemoProbeRejectsThenPinned runs the demo's probe story as its
// guide tells it: the pinning API rejects the bundle (nothing uploaded,
// plan says why), its thumbprint is pinned from plan's JSON, and the next
// rotation uploads.
func TestDevDemoProbeRejectsThenPinned(t *testing.T) {
	t.Parallel()
	demo := prepareDemo(t, true)
	sim, cfgPath := demo.sim, demo.cfgPath

	code, out, errOut := runCLI(t, nil, "rotate", "-c", cfgPath, devProbeJob, "--local")
	if code != exitFailed || !strings.Contains(out, jobs.CodeAPIRejectsCertificate) || !strings.Contains(out, "HTTP 403") {
		t.Fatalf("rotate --local %s: exit %d out %q err %q, want api_rejects_certificate", devProbeJob, code, out, errOut)
	}
	if ups := sim.Uploads(devTenantID, devConnector4); len(ups) != 0 {
		t.Fatalf("uploads %v after a rejection", ups)
	}

	code, out, errOut = runCLI(t, nil, "plan", "-c", cfgPath, devProbeJob, "--json")
	var d jobs.Decision
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &d); err != nil || code != exitFailed || d.Probe == nil || d.Probe.Accepted || d.Bundle == nil {
		t.Fatalf("plan --json: exit %d decision %+v (%v) err %q", code, d, err, errOut)
	}
	pins, err := os.OpenFile(filepath.Join(demo.dir, "api-pins.txt"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pins.WriteString(d.Bundle.Thumbprint + "\n")
	pins.Close()

	code, out, errOut = runCLI(t, nil, "rotate", "-c", cfgPath, devProbeJob, "--local")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") {
		t.Fatalf("rotate --local after pinning: exit %d out %q err %q", code, out, errOut)
	}
	if ups := sim.Uploads(devTenantID, devConnector4); len(ups) != 1 || ups[0] != d.Bundle.Thumbprint {
		t.Errorf("uploads %v, want [%s]", ups, d.Bundle.Thumbprint)
	}
}
