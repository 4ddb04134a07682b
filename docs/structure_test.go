package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/certrotator/certrotator/config"
)

// guidesThatRun are the guides whose vault, nats and certrotator blocks
// must all run (TestOnboardingRuns with the runbook, TestKubernetesGuideRuns,
// TestOperationsRuns, TestPKIRecipeRuns).
var guidesThatRun = map[string]bool{"onboarding.md": true, "kubernetes.md": true, "operations.md": true,
	"pki.md": true, "runbook.md": true}

var commandLineRE = regexp.MustCompile(`(?m)^\s*(?:[A-Z_]+=\S+\s+)*(vault|nats|certrotator|deploy/\S+\.sh)\b`)

// TestEveryBlockIsMarked: a shell block without a marker would silently
// escape the docs test, and in the guides that run, a block with a vault,
// nats or certrotator command (or one of deploy/'s scripts) must run.
func TestEveryBlockIsMarked(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"run": true, "run-if-exists": true, "background": true, "skip": true,
		"yaml": true, "config": true, "nats-server": true, "config-example": true,
		"run-operator": true, "nats-server-operator": true}
	for _, f := range files {
		for _, b := range blocks(t, f) {
			if b.kind != "" && !known[b.kind] {
				t.Errorf("%s: unknown marker %q", b.where(), b.kind)
			}
			if b.lang != "sh" && b.lang != "bash" {
				continue
			}
			if b.kind == "" {
				t.Errorf("%s: a shell block without a <!-- docs-test: … --> marker", b.where())
				continue
			}
			if b.kind == "skip" && strings.TrimSpace(b.arg) == "" {
				t.Errorf("%s: a skipped block must say why", b.where())
			}
			if guidesThatRun[f] && b.kind == "skip" && commandLineRE.MatchString(b.body) {
				t.Errorf("%s: a block with a vault, nats or certrotator command must run, not be skipped", b.where())
			}
		}
	}
}

// TestAlertsLinkRunbook: every alert carries a runbook_url to a section
// of runbook.md that exists.
func TestAlertsLinkRunbook(t *testing.T) {
	t.Parallel()
	anchors := headingAnchors(t, "runbook.md")
	n := 0
	for _, file := range []string{"alerts.yaml", "alerts-notify.yaml"} {
		n += checkRunbookLinks(t, file, anchors)
	}
	if n == 0 {
		t.Fatal("the alert files hold no alert")
	}
}

// checkRunbookLinks checks one rule file's alerts and counts them.
func checkRunbookLinks(t *testing.T, file string, anchors map[string]bool) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", file))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	const base = "https://github.com/certrotator/certrotator/blob/main/docs/runbook.md#"
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			u := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(u, base)
			switch {
			case !ok:
				t.Errorf("alert %s: runbook_url %q does not start with %s", r.Alert, u, base)
			case !anchors[anchor]:
				t.Errorf("alert %s: runbook.md has no section #%s", r.Alert, anchor)
			}
		}
	}
	return n
}

// headingAnchors are the anchors GitHub gives a file's headings.
func headingAnchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestConfigExamplesLoad: the config examples of deploy/ and of the guides
// decode and validate as the worker reads them, with stand-ins for the
// secret files and variables they name.
func TestConfigExamplesLoad(t *testing.T) {
	t.Parallel()
	examples := map[string]string{}
	data, err := os.ReadFile(filepath.Join("..", "deploy", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	examples["deploy/config.example.yaml"] = string(data)
	files, _ := filepath.Glob("*.md")
	for _, f := range files {
		for _, b := range blocks(t, f) {
			if b.kind == "config-example" {
				examples[b.where()] = b.body
			}
		}
	}
	if len(examples) < 2 {
		t.Fatalf("found %d config examples; config.md's is missing its marker", len(examples))
	}
	for name, doc := range examples {
		dir := t.TempDir()
		for _, m := range regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([\w.-]+)`).FindAllStringSubmatch(doc, -1) {
			writeFile(t, filepath.Join(dir, m[1]), []byte("stand-in\n"), 0o600)
		}
		env := map[string]string{"CREDENTIALS_DIRECTORY": dir, "VAULT_ADDR": "https://vault.example.internal:8200",
			"VAULT_ROLE_ID": "stand-in-role-id", "VAULT_TOKEN": "stand-in-token"}
		if _, err := config.Parse([]byte(doc), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Errorf("%s does not load: %v", name, err)
		}
	}
}
