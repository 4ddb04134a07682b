package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestNATSCommands runs `run` (embedded NATS listening on loopback), then
// drives it with rotate --wait, status and events as an operator would:
// with the config, and without it through --server, NATS_URL and a nats
// CLI context.
func TestNATSCommands(t *testing.T) {
	t.Parallel()
	now := time.Now()
	v := vaultHolding(t, "b2c/nats")
	conn := freshConn(t)
	path := cliConfig(t, v, "b2c/nats", conn)
	listen := addNATSListen(t, path)
	// The same config with a schedule, for status' NEXT RUN; the worker
	// runs without one so that no cron run races the test's requests.
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	scheduled := testkit.WriteFile(t, t.TempDir(), "scheduled.yaml",
		strings.Replace(string(body), "    source: {path: b2c/nats}\n", "    source: {path: b2c/nats}\n    schedule: \"0 */6 * * *\"\n", 1))

	defer startServing(t, path)()

	// rotate --wait: one human line per connector and a tally.
	code, out, errOut := runCLI(t, map[string]string{"USER": "tester"}, "rotate", "-c", path, "cli-job", "--wait", "30s", "--reason", "cli test")
	if code != exitOK {
		t.Fatalf("rotate --wait: exit %d out %q err %q", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^succeeded\s+cli-job/`+conn+`\s+thumbprint [0-9A-F]{12}…, (89|90|91) days left, version 1$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^1 succeeded, 0 failed in \d`).MatchString(lines[1]) {
		t.Errorf("rotate --wait printed:\n%s", out)
	}

	// --json: raw CloudEvents carrying the audit trail.
	code, out, errOut = runCLI(t, map[string]string{"USER": "tester"}, "rotate", "-c", path, "cli-job", "--wait", "30s", "--reason", "again", "--json")
	var ev contract.Event
	if err := json.Unmarshal([]byte(out), &ev); err != nil || code != exitOK {
		t.Fatalf("rotate --wait --json: exit %d out %q err %q: %v", code, out, errOut, err)
	}
	if ev.Type != "certrotator.rotation.skipped" || ev.Data.RequestReason != "again" || !strings.HasPrefix(ev.Data.RequestedBy, "tester@") || ev.Data.Trigger != "manual" {
		t.Errorf("event = %+v", ev)
	}

	// status: the skip does not hide the upload; audit trail; next run.
	code, out, _ = runCLI(t, nil, "status", "-c", path)
	if code != exitOK || !strings.Contains(out, "DAYS LEFT") || !strings.Contains(out, conn) || !strings.Contains(out, "already_present") ||
		!strings.Contains(out, "manual by tester@") || !strings.Contains(out, ": again") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "status", "-c", scheduled, "--json")
	var row struct {
		Connector, Outcome string
		DaysLeft           *int       `json:"days_left"`
		LastUpload         *time.Time `json:"last_upload"`
		NextRun            *time.Time `json:"next_run"`
		RequestReason      string     `json:"request_reason"`
		Certificate        struct {
			SourceVersion int `json:"source_version"`
		}
	}
	if err := json.Unmarshal([]byte(out), &row); err != nil || code != exitOK {
		t.Fatalf("status --json: exit %d out %q: %v", code, out, err)
	}
	if row.Connector != conn || row.Outcome != "skipped" || row.DaysLeft == nil || *row.DaysLeft < 89 || row.LastUpload == nil ||
		row.NextRun == nil || !row.NextRun.After(now) || row.RequestReason != "again" || row.Certificate.SourceVersion != 1 {
		t.Errorf("status --json = %s", out)
	}

	// events: one line per event by default, CloudEvents with --json.
	code, out, _ = runCLI(t, nil, "events", "-c", path, "--since", "1h")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 || !strings.Contains(lines[0], "succeeded") || !strings.Contains(lines[0], "cli-job/"+conn) ||
		!strings.Contains(lines[0], "[manual by tester@") || !strings.Contains(lines[1], "skipped") {
		t.Errorf("events: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "events", "-c", path, "--since", "1d", "--json")
	if code != exitOK || strings.Count(out, `"specversion":"1.0"`) != 2 {
		t.Errorf("events --json: exit %d\n%s", code, out)
	}

	// Without a config: --server, NATS_URL, a nats context.
	url := "nats://" + listen
	home := natsContextHome(t, "ops", `{"url": "`+url+`"}`)
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"--server":         {nil, []string{"--server", url}},
		"NATS_URL":         {map[string]string{"NATS_URL": url}, nil},
		"selected context": {map[string]string{"HOME": home}, nil},
		"--context":        {map[string]string{"HOME": home, "NATS_URL": "nats://127.0.0.1:1"}, []string{"--context", "ops"}},
	} {
		code, out, errOut := runCLI(t, tc.env, append([]string{"status"}, tc.args...)...)
		if code != exitOK || !strings.Contains(out, conn) || !strings.Contains(out, "skipped") {
			t.Errorf("status with %s: exit %d out %q err %q", name, code, out, errOut)
		}
	}
	code, out, errOut = runCLI(t, map[string]string{"NATS_URL": url, "USER": "ci"}, "rotate", "cli-job", "--wait", "30s")
	if code != exitOK || !strings.Contains(out, "skipped") || !strings.Contains(out, "1 succeeded") && !strings.Contains(out, "0 succeeded, 1 skipped, 0 failed") {
		t.Errorf("rotate --wait with NATS_URL: exit %d out %q err %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"CERTROTATOR_CONFIG": path}, "rotate", "cli-jbo")
	if code != exitUsage || !strings.Contains(errOut, `did you mean "cli-job"?`) || !strings.Contains(errOut, "(jobs: cli-job)") {
		t.Errorf("misspelt job: exit %d err %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "status", "-c", path, "extra")
	if code != exitUsage || !strings.Contains(errOut, "status takes no arguments") {
		t.Errorf("status with an argument: exit %d err %q", code, errOut)
	}
}

// natsContextHome writes a nats CLI context called name with body, selects
// it, and returns the HOME that holds it.
func natsContextHome(t *testing.T, name, body string) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "nats", "context")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, dir, name+".json", body)
	testkit.WriteFile(t, filepath.Dir(dir), "context.txt", name+"\n")
	return home
}

// TestNoStreamsSaysSo: against a NATS server no worker has set up, every
// NATS command says so in plain words, once.
func TestNoStreamsSaysSo(t *testing.T) {
	t.Parallel()
	url := testkit.NATS(t, "").ClientURL()
	for _, args := range [][]string{
		{"events", "--server", url},
		{"rotate", "--server", url, "some-job"},
		{"rotate", "--server", url, "some-job", "--wait", "5s"},
	} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitFailed || strings.Count(errOut, client.ErrNoStreams.Error()) != 1 || strings.Count(errOut, "certrotator:") != 1 {
			t.Errorf("%q: exit %d out %q err %q", args, code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, nil, "status", "--server", url)
	if code != exitOK || !strings.Contains(out, "JOB") {
		t.Errorf("status without streams: exit %d out %q err %q", code, out, errOut)
	}
}

// TestNATSTargetErrors: no way to connect, or a context that is not there,
// is a usage error that says what to do.
func TestNATSTargetErrors(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	code, _, errOut := runCLI(t, map[string]string{"HOME": empty}, "status")
	if code != exitUsage || !strings.Contains(errOut, "--server URL") || !strings.Contains(errOut, "NATS_URL") {
		t.Errorf("nothing to connect to: exit %d err %q", code, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"HOME": empty}, "events", "--context", "nope")
	if code != exitUsage || !strings.Contains(errOut, "reading nats context nope") {
		t.Errorf("missing context: exit %d err %q", code, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"HOME": empty}, "events", "--context", "../x")
	if code != exitUsage || !strings.Contains(errOut, "not a context name") {
		t.Errorf("context path: exit %d err %q", code, errOut)
	}
	bad := natsContextHome(t, "broken", "{url:")
	code, _, errOut = runCLI(t, map[string]string{"HOME": bad}, "status")
	if code != exitUsage || !strings.Contains(errOut, "decoding nats context broken") {
		t.Errorf("broken context: exit %d err %q", code, errOut)
	}
}
