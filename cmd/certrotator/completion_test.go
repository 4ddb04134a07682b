package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestCompletionScriptsParse: each shell parses its script (bash -n, zsh
// -n), and the bash one completes commands, flags and jobs as a user
// pressing tab would see them.
func TestCompletionScriptsParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := runCLI(t, nil, "completion", shell)
		if code != exitOK || !strings.Contains(out, "certrotator") {
			t.Fatalf("completion %s: exit %d err %q", shell, code, errOut)
		}
		bin, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s is not installed: its script is not parsed", shell)
			continue
		}
		script := testkit.WriteFile(t, dir, "certrotator."+shell, out)
		if msg, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, msg)
		}
	}
	if code, _, errOut := runCLI(t, nil, "completion", "tcsh"); code != exitUsage || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d err %q", code, errOut)
	}
}

func TestBashCompletes(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	_, script, _ := runCLI(t, nil, "completion", "bash")
	path := testkit.WriteFile(t, dir, "c.bash", script)
	// A stand-in certrotator on PATH answers the script's __jobs question.
	testkit.WriteFile(t, dir, "certrotator", "#!/bin/sh\n[ \"$1\" = __jobs ] && printf 'contoso-api\\ncontoso-web\\nfabrikam\\n'\n")
	if err := exec.Command("chmod", "+x", filepath.Join(dir, "certrotator")).Run(); err != nil {
		t.Fatal(err)
	}
	for words, want := range map[string]string{
		"certrotator rot":                  "rotate",
		"certrotator v":                    "validate version",
		"certrotator rotate --w":           "--wait",
		"certrotator status --":            "--context --json --server",
		"certrotator rotate -c x.yaml con": "contoso-api contoso-web",
		"certrotator rotate --wait ":       "",
	} {
		cmd := exec.Command(bash, "-c", `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=(""); `+
			`COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _certrotator; echo "${COMPREPLY[*]}"`, "bash", path, words)
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("%q completes to %q (%v), want %q", words, got, err, want)
		}
	}
}

// TestCompletionKnowsEveryFlag: the flags completion offers are the ones
// the commands define.
func TestCompletionKnowsEveryFlag(t *testing.T) {
	t.Parallel()
	var names []string
	for _, f := range commandFlags(t.Context(), "rotate") {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "-c --connector --context --force --json --local --reason --server --wait"; got != want {
		t.Errorf("rotate's flags = %q, want %q", got, want)
	}
	for _, c := range []string{"run", "plan", "status", "events", "validate", "inspect", "check-source", "dev"} {
		if len(commandFlags(t.Context(), c)) == 0 {
			t.Errorf("%s: no flags found", c)
		}
	}
}
