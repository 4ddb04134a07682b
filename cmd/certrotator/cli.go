package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/certrotator/certrotator/config"
)

// Exit codes, as the README's CLI section promises.
const (
	exitOK     = 0
	exitFailed = 1 // a rotation failed or a bundle was rejected
	exitUsage  = 2 // bad usage or config
)

// env is the process environment seen through a lookup function, so that
// subcommands never read os.Getenv themselves and tests can inject one.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	lookup func(string) (string, bool)
	now    func() time.Time
}

// command is one subcommand: it parses its own args and returns an exit code.
type command struct {
	summary string
	run     func(e *env, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"run":          {"run the worker", cmdRun},
		"rotate":       {"request a rotation (or run one with --local)", cmdRotate},
		"plan":         {"dry run: what a rotation would do, changing nothing", cmdPlan},
		"status":       {"latest outcome per connector", cmdStatus},
		"history":      {"every outcome of a job, newest first, with its Vault versions", cmdHistory},
		"rollback":     {"roll a job's connectors back to a Vault KV version", cmdRollback},
		"events":       {"outcome events, one line each (--json: CloudEvents)", cmdEvents},
		"validate":     {"check the config file", cmdValidate},
		"inspect":      {"judge a PFX file on disk", cmdInspect},
		"check-source": {"read each job's bundle from Vault and judge it", cmdCheckSource},
		"doctor":       {"check the config and everything it points at: Vault, Graph, NATS", cmdDoctor},
		"dev":          {"one-command local demo: NATS, Vault, Graph emulator, worker", cmdDev},
		"completion":   {"print a shell completion script: bash or zsh", cmdCompletion},
		"__jobs":       {"", cmdJobs},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, lookup: lookup, now: time.Now}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		return cmdVersion(e, args[1:]) // version.go
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "certrotator: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: certrotator COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if strings.HasPrefix(n, "__") {
			continue // for scripts, not people
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'certrotator COMMAND -h' for a command's flags")
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: certrotator %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may stand before, between or after positional
// arguments (`rotate -c FILE JOB --force`), which package flag alone does
// not allow, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError maps a flag parsing error, which package flag has already
// printed, to an exit code: 0 for -h, 2 otherwise.
func flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// usageError reports a usage problem and returns the usage exit code.
func usageError(e *env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "certrotator: "+format+"\n", args...)
	return exitUsage
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// durationFlag is a duration flag that reads durations as the config file
// does: Go's syntax plus days (`30d`, `1d12h`).
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(v string) error {
	d, err := config.ParseDuration(v)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// durationVar defines a duration flag that takes `30d` like the config.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

// configFlag defines -c, whose default is $CERTROTATOR_CONFIG so that a
// host with one config need not name it in every command.
func configFlag(e *env, fs *flag.FlagSet) *string {
	p := new(string)
	configVar(e, fs, p)
	return p
}

func configVar(e *env, fs *flag.FlagSet, p *string) {
	def, _ := e.lookup("CERTROTATOR_CONFIG")
	fs.StringVar(p, "c", def, "config file (default $CERTROTATOR_CONFIG)")
}
