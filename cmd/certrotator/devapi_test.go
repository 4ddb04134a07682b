package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestDevDemoProbeRejectsThenPinned runs the demo's probe story as its
// guide tells it: the pinning API rejects the bundle (nothing uploaded,
// plan says why), its thumbprint is pinned from plan's JSON, and the next
// rotation uploads.
func TestDevDemoProbeRejectsThenPinned(t *testing.T) {
	t.Parallel()
	srv := vaulttest.Start(t)
	v := &devVault{addr: srv.Addr, token: srv.Token}
	dir := t.TempDir()
	api, err := startDevAPI(filepath.Join(dir, "api-pins.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer api.stop()
	const secret = "demo-test-secret"
	sim := graphsim.New().AddTenant(devTenantID, devClientID, secret).
		AddConnector(devTenantID, devConnector1, "one").AddConnector(devTenantID, devConnector2, "two").
		AddConnector(devTenantID, devConnector3, "three").AddConnector(devTenantID, devConnector4, "pinned")
	if err := sim.StartOn("127.0.0.1:0"); err != nil {
		t.Fatalf("starting graph emulator: %v", err)
	}
	defer sim.Close()
	sim.SetTargetURL(devTenantID, devConnector4, api.url)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := devFlags{natsListen: l.Addr().String(), httpListen: "off", api: api}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgPath, err := writeDevFiles(ctx, dir, f, v, sim, secret, "vault")
	if err != nil {
		t.Fatalf("preparing the demo: %v", err)
	}

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
	pins, err := os.OpenFile(filepath.Join(dir, "api-pins.txt"), os.O_APPEND|os.O_WRONLY, 0o600)
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
