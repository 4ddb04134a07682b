package main

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: certrotator COMMAND"},
		{[]string{"help"}, exitOK, "commands:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"validate"}, exitUsage, "-c FILE is required"},
		{[]string{"validate", "-c", "x.yaml", "extra"}, exitUsage, "takes no arguments"},
		{[]string{"inspect"}, exitUsage, "inspect takes one FILE"},
		{[]string{"rotate", "-c", "x.yaml"}, exitUsage, "rotate takes one JOB"},
		{[]string{"rotate", "-c", "x.yaml", "j", "--local", "--wait", "1s"}, exitUsage, "--wait goes with a NATS request"},
		{[]string{"inspect", "--bogus"}, exitUsage, "flag provided but not defined"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, nil, tt.args...)
		if code == exitOK {
			errOut = out // help asked for goes to stdout
		}
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestParseInterleavedFlags(t *testing.T) {
	t.Parallel()
	e := &env{stderr: &strings.Builder{}}
	fs := newFlags(e, "rotate", "")
	force := fs.Bool("force", false, "")
	var conns stringList
	fs.Var(&conns, "connector", "")
	pos, err := parse(fs, []string{"job-a", "--connector", "x", "--force", "--connector", "y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 1 || pos[0] != "job-a" || !*force || strings.Join(conns, ",") != "x,y" {
		t.Errorf("pos %q force %v connectors %q", pos, *force, conns)
	}
}

func TestDurationFlagsTakeDays(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var since time.Duration
	durationVar(fs, &since, "since", time.Hour, "")
	if since != time.Hour {
		t.Fatalf("default = %s", since)
	}
	if err := fs.Parse([]string{"--since", "7d"}); err != nil || since != 7*24*time.Hour {
		t.Fatalf("--since 7d = %s, %v", since, err)
	}
	if err := fs.Parse([]string{"--since", "soon"}); err == nil {
		t.Fatal("--since soon accepted")
	}
}
