package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestVaultCommands runs check-source, plan and rotate --local against one
// real Vault dev server and the shared Graph emulator.
func TestVaultCommands(t *testing.T) {
	t.Parallel()
	v := vaultHolding(t, "b2c/good")
	now := time.Now()
	v.PutBundle(t, "secret", "b2c/wrongpw", testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw"), "not-pw")
	t.Run("check-source", func(t *testing.T) { t.Parallel(); testCheckSource(t, v) })
	t.Run("plan", func(t *testing.T) { t.Parallel(); testPlan(t, v) })
	t.Run("rotate-local", func(t *testing.T) { t.Parallel(); testRotateLocal(t, v) })
	t.Run("rotate-local-bad-bundle", func(t *testing.T) { t.Parallel(); testRotateLocalBad(t, v) })
}

func testCheckSource(t *testing.T, v *vaulttest.Server) {
	c := freshConn(t)
	code, out, errOut := runCLI(t, nil, "check-source", "-c", cliConfig(t, v, "b2c/good", c))
	var r struct {
		Job, Verdict string
		Version      int
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitOK || r.Verdict != "ok" || r.Version != 1 || r.Job != "cli-job" {
		t.Errorf("good bundle: exit %d out %q err %q (%v)", code, out, errOut, err)
	}
	code, out, _ = runCLI(t, nil, "check-source", "-c", cliConfig(t, v, "b2c/wrongpw", c))
	if code != exitFailed || !strings.Contains(out, "bundle_password") {
		t.Errorf("wrong password: exit %d out %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "check-source", "-c", cliConfig(t, v, "b2c/missing", c))
	if code != exitFailed || !strings.Contains(out, "source_not_found") {
		t.Errorf("missing secret: exit %d out %q", code, out)
	}
}

func testPlan(t *testing.T, v *vaulttest.Server) {
	a, b := freshConn(t), freshConn(t)
	cfg := cliConfig(t, v, "b2c/good", a, b)
	code, out, errOut := runCLI(t, nil, "plan", "-c", cfg, "--json")
	if code != exitOK {
		t.Fatalf("plan: exit %d err %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("plan printed %d lines, want one per connector:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var d struct{ Action, Connector string }
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Action != "upload" {
			t.Errorf("decision %q: %v", l, err)
		}
	}
	if n := len(graph.Uploads(testTenantID, a)); n != 0 {
		t.Errorf("plan uploaded %d times", n)
	}
	code, out, _ = runCLI(t, nil, "plan", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "ACTION") || !strings.Contains(out, "upload") {
		t.Errorf("plan table: exit %d\n%s", code, out)
	}
}

func testRotateLocal(t *testing.T, v *vaulttest.Server) {
	a, b := freshConn(t), freshConn(t)
	cfg := cliConfig(t, v, "b2c/good", a, b)
	code, out, errOut := runCLI(t, nil, "rotate", "-c", cfg, "cli-job", "--local", "--connector", a, "--reason", "test")
	if code != exitOK {
		t.Fatalf("rotate --local: exit %d err %q", code, errOut)
	}
	var ev struct {
		SpecVersion string `json:"specversion"`
		Type        string `json:"type"`
		Subject     string `json:"subject"`
		Data        struct {
			Connector, Outcome, Trigger string
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("output %q is not one CloudEvent: %v", out, err)
	}
	if ev.SpecVersion != "1.0" || ev.Type != "certrotator.rotation.succeeded" || ev.Subject != "cli-job/"+a || ev.Data.Trigger != "manual" {
		t.Errorf("event %+v", ev)
	}
	if n := len(graph.Uploads(testTenantID, a)); n != 1 {
		t.Errorf("uploads to the named connector: %d, want 1", n)
	}
	if n := len(graph.Uploads(testTenantID, b)); n != 0 {
		t.Errorf("uploads to the connector not named: %d, want 0", n)
	}
	code, out, _ = runCLI(t, nil, "rotate", "-c", cfg, "cli-job", "--local", "--connector", a)
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.skipped") || !strings.Contains(out, "already_present") {
		t.Errorf("second run: exit %d out %q", code, out)
	}
}

func testRotateLocalBad(t *testing.T, v *vaulttest.Server) {
	c := freshConn(t)
	cfg := cliConfig(t, v, "b2c/wrongpw", c)
	code, out, _ := runCLI(t, nil, "rotate", "-c", cfg, "cli-job", "--local")
	if code != exitFailed || !strings.Contains(out, "certrotator.rotation.failed") || !strings.Contains(out, "bundle_password") {
		t.Errorf("bad bundle: exit %d out %q", code, out)
	}
	if n := len(graph.Uploads(testTenantID, c)); n != 0 {
		t.Errorf("a bad bundle was uploaded %d times", n)
	}
	code, _, errOut := runCLI(t, nil, "rotate", "-c", cfg, "no-such-job", "--local")
	if code != exitUsage || !strings.Contains(errOut, "no job") {
		t.Errorf("unknown job: exit %d err %q", code, errOut)
	}
}
