package main

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestUnknownJobSuggests: every command that takes a JOB answers a typo
// with the closest name and the list, before touching Vault or NATS.
func TestUnknownJobSuggests(t *testing.T) {
	t.Parallel()
	v := &vaulttest.Server{Addr: "http://127.0.0.1:1", Token: "unused"}
	cfg := cliConfig(t, v, "b2c/x", freshConn(t))
	for _, args := range [][]string{
		{"rotate", "-c", cfg, "cli-jb", "--local"},
		{"rotate", "-c", cfg, "cli-jb"},
		{"plan", "-c", cfg, "cli-jb"},
		{"check-source", "-c", cfg, "cli-jb"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != exitUsage || !strings.Contains(errOut, `no job "cli-jb"`) || !strings.Contains(errOut, `did you mean "cli-job"?`) ||
			!strings.Contains(errOut, "(jobs: cli-job)") {
			t.Errorf("%q: exit %d err %q", args, code, errOut)
		}
	}
	code, _, errOut := runCLI(t, nil, "rotate", "-c", cfg, "something-else", "--local")
	if code != exitUsage || strings.Contains(errOut, "did you mean") || !strings.Contains(errOut, "(jobs: cli-job)") {
		t.Errorf("far from any job: exit %d err %q", code, errOut)
	}
}

// TestConfigFromEnvironment: CERTROTATOR_CONFIG stands for -c, and -c
// still wins over it.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	v := &vaulttest.Server{Addr: "http://127.0.0.1:1", Token: "unused"}
	cfg := cliConfig(t, v, "b2c/x", freshConn(t))
	code, out, errOut := runCLI(t, map[string]string{"CERTROTATOR_CONFIG": cfg}, "validate")
	if code != exitOK || !strings.Contains(out, cfg+": ok") {
		t.Errorf("validate with CERTROTATOR_CONFIG: exit %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"CERTROTATOR_CONFIG": cfg}, "validate", "-c", "/nonexistent.yaml")
	if code != exitUsage || !strings.Contains(errOut, "/nonexistent.yaml") {
		t.Errorf("-c over CERTROTATOR_CONFIG: exit %d err %q", code, errOut)
	}
	if code, _, errOut = runCLI(t, nil, "validate"); code != exitUsage || !strings.Contains(errOut, "CERTROTATOR_CONFIG") {
		t.Errorf("no config: exit %d err %q", code, errOut)
	}
}
