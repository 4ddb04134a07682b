package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/config"
)

// arguments is what a command takes after its flags, as its synopsis
// spells it: "" for nothing, "JOB" or "FILE" for exactly one, "[JOB]" for
// at most one. The command table states it once; parseArgs checks it and
// completion offers job names where it is a JOB.
type arguments string

// name is what one argument is: JOB, FILE.
func (a arguments) name() string { return strings.Trim(string(a), "[]") }

// check is the problem with pos for a command that takes a, "" when none.
func (a arguments) check(cmd string, pos []string) string {
	switch {
	case a == "" && len(pos) > 0:
		return fmt.Sprintf("%s takes no arguments, got %q", cmd, pos)
	case strings.HasPrefix(string(a), "[") && len(pos) > 1:
		return fmt.Sprintf("%s takes at most one %s, got %d arguments", cmd, a.name(), len(pos))
	case a != "" && !strings.HasPrefix(string(a), "[") && len(pos) != 1:
		return fmt.Sprintf("%s takes one %s, got %d arguments", cmd, a.name(), len(pos))
	}
	return ""
}

// parseArgs parses the flags of the command fs belongs to and checks its
// positional arguments against the command table. When ok is false the
// problem is printed, with the command's synopsis, and code is the exit
// code.
func parseArgs(e *env, fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, flagError(err), false
	}
	cmd := commands()[fs.Name()]
	if msg := cmd.args.check(fs.Name(), pos); msg != "" {
		fmt.Fprintf(e.stderr, "certrotator: %s\nusage: certrotator %s %s\n", msg, fs.Name(), cmd.synopsis)
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// parseConfig is parseArgs, then the config the -c flag at path names
// loaded. cfg is nil when the command should exit with code; the problem
// is printed.
func parseConfig(e *env, fs *flag.FlagSet, args []string, path *string) (cfg *config.Config, pos []string, code int) {
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return nil, nil, code
	}
	if cfg, ok = loadConfig(e, *path); !ok {
		return nil, nil, exitUsage
	}
	return cfg, pos, exitOK
}
