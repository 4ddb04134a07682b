// Package systemd_test keeps certrotator.service hardened and in step with
// the config it runs: every credential the config reads is loaded, and the
// stop timeout outlasts the worker's own shutdown.
package systemd_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
)

// directives reads the unit's [Service] section: each key with every value
// it is given, in order.
func directives(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("certrotator.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a directive: %q", line)
			}
			out[k] = append(out[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnitHardening(t *testing.T) {
	t.Parallel()
	d := directives(t)
	want := map[string]string{
		"DynamicUser":             "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictSUIDSGID":        "yes",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"SystemCallArchitectures": "native",
		"UMask":                   "0077",
	}
	for k, v := range want {
		got := d[k]
		if len(got) == 0 || got[len(got)-1] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if f := d["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter %q: want an allow list starting with @system-service", f)
	}
	if env := strings.Join(d["Environment"], " "); regexp.MustCompile(`(?i)(secret|token|password)=`).MatchString(env) {
		t.Errorf("a secret in Environment= (%s): load it with LoadCredential= instead", env)
	}
}

// workerStopBound is the longest a worker takes to stop after SIGTERM: the
// shutdown timeout for in-flight rotations, then up to 5s for the HTTP
// server and 10s to flush NATS.
const workerStopBound = config.ShutdownTimeoutDefault + 15*time.Second

func TestUnitStopTimeoutOutlastsTheWorker(t *testing.T) {
	t.Parallel()
	v := directives(t)["TimeoutStopSec"]
	if len(v) != 1 {
		t.Fatalf("TimeoutStopSec=%q: want one value", v)
	}
	d, err := time.ParseDuration(v[0])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", v[0], err)
	}
	if d <= workerStopBound {
		t.Errorf("TimeoutStopSec=%s: systemd would kill a worker still stopping (up to %s)", d, workerStopBound)
	}
}

// TestUnitLoadsEveryCredentialTheConfigReads validates the shipped config
// as the unit runs it: $CREDENTIALS_DIRECTORY holds exactly the
// LoadCredential= names, so a config key pointing at any other file fails.
func TestUnitLoadsEveryCredentialTheConfigReads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, lc := range directives(t)["LoadCredential"] {
		name, _, _ := strings.Cut(lc, ":")
		if err := os.WriteFile(filepath.Join(dir, name), []byte("stand-in\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CREDENTIALS_DIRECTORY": dir, "VAULT_ADDR": "https://vault.example:8200", "VAULT_ROLE_ID": "role"}
	if _, err := config.Parse(data, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Errorf("deploy/config.example.yaml under the unit's credentials: %v", err)
	}
	// Commented-out alternatives (creds_file beside nkey_file) are not read.
	uncommented := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(string(data), "")
	refs := regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([\w.-]+)`).FindAllStringSubmatch(uncommented, -1)
	for _, r := range refs {
		if _, err := os.Stat(filepath.Join(dir, r[1])); err != nil {
			t.Errorf("the config reads %s, which no LoadCredential= provides", r[1])
		}
	}
}
