package main

import (
	"encoding/json"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// Help that was asked for goes to stdout with exit 0, so that `--help |
// less` works; `help CMD` is `CMD --help`; each command's help ends with
// an example of it.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != exitOK || errOut != "" || !strings.Contains(out, "commands:") || !strings.Contains(out, "--version") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the usage on stdout, listing --version", args, code, out, errOut)
		}
	}
	for _, name := range commandNames() {
		code, out, errOut := runCLI(t, nil, name, "--help")
		if code != exitOK || errOut != "" || !strings.HasPrefix(out, "usage: certrotator ") {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, out, errOut)
			continue
		}
		if !regexp.MustCompile(`\nexample:\n  (certrotator|source <\(certrotator) `).MatchString(out) || !strings.Contains(out, "certrotator "+strings.TrimPrefix(name, "version")) {
			t.Errorf("%s --help has no example of it:\n%s", name, out)
		}
		if code2, out2, _ := runCLI(t, nil, "help", name); code2 != exitOK || out2 != out {
			t.Errorf("help %s: exit %d, differs from %s --help:\n%s", name, code2, name, out2)
		}
		if code3, out3, _ := runCLI(t, nil, name, "-h"); code3 != exitOK || out3 != out {
			t.Errorf("%s -h differs from --help", name)
		}
	}
}

// A typo gets a suggestion: commands and flags.
func TestDidYouMean(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rotat", "api"}, `unknown command "rotat": did you mean "rotate"?`},
		{[]string{"help", "stauts"}, `did you mean "status"?`},
		{[]string{"versoin"}, `did you mean "version"?`},
		{[]string{"rotate", "api", "--wiat", "1m"}, "flag provided but not defined: --wiat (did you mean --wait?)"},
		{[]string{"status", "--jsno"}, "(did you mean --json?)"},
		{[]string{"validate", "-cc", "x"}, "(did you mean -c?)"},
	} {
		code, out, errOut := runCLI(t, nil, tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q on stderr", tt.args, code, out, errOut, tt.want)
		}
	}
}

// synopsisFlag finds the flags a synopsis names: -c, --wait.
var synopsisFlag = regexp.MustCompile(`(?:^|[\s\[|])(--?[a-z][a-z-]*)`)

// A flag is spelled the same in a command's usage line and in its flag
// list: -c FILE in both, --wait DURATION in both; every flag the synopsis
// names is defined.
func TestFlagsSpelledAsSynopsis(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		if name == "version" {
			continue
		}
		_, out, _ := runCLI(t, nil, name, "--help")
		lines := strings.Split(out, "\n")
		synopsis := strings.TrimPrefix(lines[0], "usage: certrotator "+name)
		var listed []string
		for _, l := range lines {
			if strings.HasPrefix(l, "  -") {
				f := strings.Fields(l)
				listed = append(listed, strings.Join(f, " "))
				if n := strings.TrimLeft(f[0], "-"); (len(n) == 1) != (f[0] == "-"+n) {
					t.Errorf("%s lists %s: want -x for one letter, --name for more", name, f[0])
				}
			}
		}
		for _, m := range synopsisFlag.FindAllStringSubmatch(synopsis, -1) {
			flag := m[1]
			found := slices.ContainsFunc(listed, func(l string) bool { return l == flag || strings.HasPrefix(l, flag+" ") })
			if !found {
				t.Errorf("%s: the synopsis names %s, the flag list has %q", name, flag, listed)
			}
			// A value named in the synopsis is named the same in the list.
			if v := regexp.MustCompile(regexp.QuoteMeta(flag) + ` ([A-Z][A-Z_]*)`).FindStringSubmatch(synopsis); v != nil &&
				!slices.Contains(listed, flag+" "+v[1]) {
				t.Errorf("%s: the synopsis says %s %s, the flag list %q", name, flag, v[1], listed)
			}
		}
	}
}

// "Could not reach NATS" exits 3, apart from 1 (a rotation
// failed): a script can retry the one and page on the other.
func TestUnreachableExitCode(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	dir := t.TempDir()
	publisher := testkit.WriteFile(t, dir, "publisher.yaml", "nats:\n  url: nats://"+closed+"\n")
	worker := testkit.WriteFile(t, dir, "worker.yaml", `
nats: {url: "nats://`+closed+`"}
vault: {address: "http://`+closed+`", auth: {method: token, token: t}}
tenants:
  demo: {tenant_id: `+testTenantID+`, client_id: `+testClientID+`, client_secret: s}
jobs:
  - name: api
    source: {path: b2c/api}
    connectors: [{tenant: demo, id: `+testConnA+`}]
http: {listen: "off"}
`)
	for _, args := range [][]string{
		{"status", "--server", "nats://" + closed},
		{"events", "-c", publisher},
		{"rotate", "-c", publisher, "api"},
		{"history", "-c", worker, "api"},
		{"rollback", "-c", worker, "api", "--to-version", "1"},
		{"plan", "-c", worker, "api"},
	} {
		code, _, errOut := runCLI(t, nil, args...)
		if code != exitUnreachable {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, code, exitUnreachable, errOut)
		}
	}
}

// validate --json prints one object a script can read: valid or the
// problems with line and key; the kind of config.
func TestValidateJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := testkit.WriteFile(t, dir, "bad.yaml", "instance: a\nnats:\n  urll: nats://x:4222\n")
	publisher := testkit.WriteFile(t, dir, "publisher.yaml", "nats:\n  url: nats://nats.example:4222\n")
	for _, tt := range []struct {
		path  string
		code  int
		valid bool
		kind  string
		key   string
		line  int
	}{
		{bad, exitUsage, false, "", "nats.urll", 3},
		{publisher, exitOK, true, "publisher", "", 0},
	} {
		code, out, errOut := runCLI(t, nil, "validate", "-c", tt.path, "--json")
		var v validation
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != tt.code || errOut != "" {
			t.Fatalf("validate --json %s: exit %d, %v, stdout %q stderr %q", tt.path, code, err, out, errOut)
		}
		if v.File != tt.path || v.Valid != tt.valid || v.Kind != tt.kind {
			t.Errorf("validate --json %s = %+v", tt.path, v)
		}
		if tt.key != "" && (len(v.Problems) != 1 || v.Problems[0].Key != tt.key || v.Problems[0].Line != tt.line) {
			t.Errorf("validate --json %s problems = %+v, want %s at line %d", tt.path, v.Problems, tt.key, tt.line)
		}
	}
}
