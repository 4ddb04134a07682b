package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/certrotator/certrotator/config"
)

// Exit codes, as the README's CLI section promises.
const (
	exitOK          = 0
	exitFailed      = 1 // a rotation failed or a bundle was rejected
	exitUsage       = 2 // bad usage or config
	exitUnreachable = 3 // NATS, Vault or Graph could not be reached: retry later, nothing was decided
)

// env is the process environment seen through a lookup function, so that
// subcommands never read os.Getenv themselves and tests can inject one.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	lookup func(string) (string, bool)
	now    func() time.Time
	// natsDenied is the first subscription NATS refused this command's
	// connection, for failure's hint (dial.go).
	natsDenied atomic.Pointer[string]
}

// command is one subcommand as the table states it: what it does, its
// synopsis (flags and arguments, as its help and usage errors print them),
// the arguments it takes after its flags, and run, which defines its flags
// on fs, parses args and returns an exit code.
type command struct {
	summary  string
	synopsis string
	args     arguments
	run      func(e *env, fs *flag.FlagSet, args []string) int
	example  string // one typical use, shown by its help
}

// invoke runs the command named name on a flag set of its own.
func (c command) invoke(e *env, name string, args []string) int {
	return c.run(e, newFlags(e, name, c.synopsis), args)
}

func commands() map[string]command {
	return map[string]command{
		"run":          {"run the worker", "-c FILE", "", cmdRun, "certrotator run -c /etc/certrotator/config.yaml"},
		"rotate":       {"request a rotation (or run one with --local)", "[-c FILE | --server URL | --context NAME] JOB [--connector ID]... [--force] [--reason TEXT] [--wait DURATION [--json] | --local]", "JOB", cmdRotate, `certrotator rotate -c config.yaml contoso-api --reason "new bundle" --wait 5m`},
		"plan":         {"dry run: what a rotation would do, changing nothing", "-c FILE [JOB] [--json]", "[JOB]", cmdPlan, "certrotator plan -c config.yaml contoso-api"},
		"status":       {"latest outcome per connector", "[-c FILE | --server URL | --context NAME] [--json]", "", cmdStatus, "certrotator status --server nats://nats.example:4222"},
		"history":      {"every outcome of a job, newest first, with its Vault versions", "-c FILE JOB [--connector ID] [--json]", "JOB", cmdHistory, "certrotator history -c config.yaml contoso-api"},
		"rollback":     {"roll a job's connectors back to a Vault KV version", "-c FILE JOB --to-version N [--connector ID]... [--wait DURATION [--json]]", "JOB", cmdRollback, "certrotator rollback -c config.yaml contoso-api --to-version 3 --wait 5m"},
		"events":       {"outcome events, one line each (--json: CloudEvents)", "[-c FILE | --server URL | --context NAME] [--since DURATION] [--follow] [--json]", "", cmdEvents, "certrotator events -c config.yaml --since 7d --follow"},
		"validate":     {"check the config file", "-c FILE [--json]", "", cmdValidate, "certrotator validate -c config.yaml"},
		"inspect":      {"judge a PFX file on disk", "FILE [--password-env VAR | --password-file F] [--min-validity 168h]", "FILE", cmdInspect, "certrotator inspect bundle.pfx --password-file bundle.password"},
		"check-source": {"read each job's bundle from Vault and judge it", "-c FILE [JOB]", "[JOB]", cmdCheckSource, "certrotator check-source -c config.yaml contoso-api"},
		"scan":         {"list every connector and key container of the tenants: expiry, managing job or unmanaged", "-c FILE [--tenant T] [--json] [--timeout D]", "", cmdScan, "certrotator scan -c config.yaml --tenant contoso"},
		"doctor":       {"check the config and everything it points at: Vault, Graph, NATS", "-c FILE [--read-bundles] [--json] [--timeout D]", "", cmdDoctor, "certrotator doctor -c config.yaml --read-bundles"},
		"dev":          {"one-command local demo: NATS, Vault, Graph emulator, worker", "[--dir .dev] [--nats-listen 127.0.0.1:4222] [--http 127.0.0.1:9090]", "", cmdDev, "certrotator dev --dir .dev"},
		"completion":   {"print a shell completion script: bash, zsh or fish", "bash|zsh|fish", "SHELL", cmdCompletion, "certrotator completion fish > ~/.config/fish/completions/certrotator.fish"},
		"__jobs":       {"", "[-c FILE]", "", cmdJobs, ""},
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, lookup: lookup, now: time.Now}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if args[0] == "help" && len(args) > 1 {
		args = []string{args[1], "--help"} // `certrotator help CMD` is `CMD --help`
	}
	if isHelp(args[0]) || args[0] == "help" {
		usage(stdout) // asked for: to stdout, so that `--help | less` works
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprintln(stdout, "usage: certrotator --version\n\nprint the version, commit, toolchain and platform\n\nexample:\n  certrotator --version")
			return exitOK
		}
		return cmdVersion(e, args[1:]) // version.go
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := config.Suggest(args[0], commandNames()); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		}
		fmt.Fprintf(stderr, "certrotator: %s\n\n", msg)
		usage(stderr)
		return exitUsage
	}
	return cmd.invoke(e, args[0], args[1:])
}

// commandNames are the commands people type, sorted, with version.
func commandNames() []string {
	var names []string
	for n := range commands() {
		if !strings.HasPrefix(n, "__") { // for scripts, not people
			names = append(names, n)
		}
	}
	names = append(names, "version")
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: certrotator COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	for _, n := range commandNames() {
		if n == "version" {
			continue
		}
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nflags:")
	fmt.Fprintf(w, "  %-13s %s\n", "--version", "print the version and commit")
	fmt.Fprintf(w, "  %-13s %s\n", "--help", "print this help")
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 a rotation failed or a bundle was rejected, 2 bad usage or config,")
	fmt.Fprintln(w, "3 NATS, Vault or Graph could not be reached")
	fmt.Fprintln(w, "\nrun 'certrotator help COMMAND' (or 'certrotator COMMAND --help') for a command's flags and an example")
}

// flagOutput takes what package flag writes. flag writes an error message
// and then calls Usage; a request for help calls Usage alone. So the
// message pending when Usage runs tells an error (to stderr, with a
// did-you-mean) from a request for help (to stdout, exit 0).
type flagOutput struct{ pending strings.Builder }

func (o *flagOutput) Write(p []byte) (int, error) { return o.pending.Write(p) }

// newFlags returns a FlagSet that reports errors instead of exiting. Its
// help lists the flags spelled as synopsis spells them (-c FILE, --wait
// DURATION) and the command's example.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := &flagOutput{}
	fs.SetOutput(out)
	fs.Usage = func() {
		if msg := strings.TrimSpace(out.pending.String()); msg != "" {
			out.pending.Reset()
			fmt.Fprintf(e.stderr, "certrotator %s: %s%s\n", name, respell(msg), suggestFlag(fs, msg))
			fmt.Fprintf(e.stderr, "usage: certrotator %s %s\nrun 'certrotator %s --help' for its flags\n", name, synopsis, name)
			return
		}
		printHelp(e.stdout, fs, name, synopsis)
	}
	return fs
}

// printHelp writes a command's help: synopsis, summary, flags, example.
func printHelp(w io.Writer, fs *flag.FlagSet, name, synopsis string) {
	cmd := commands()[name]
	fmt.Fprintf(w, "usage: certrotator %s %s\n", name, synopsis)
	if cmd.summary != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.summary)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		line := "  " + flagName(f.Name)
		if v := valueName(f, synopsis); v != "" {
			line += " " + v
		}
		fmt.Fprintln(w, line)
		text := f.Usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && !strings.Contains(text, "default") {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "        %s\n", text)
	})
	fmt.Fprintf(w, "  --help\n        print this help\n")
	if cmd.example != "" {
		fmt.Fprintf(w, "\nexample:\n  %s\n", cmd.example)
	}
}

// flagName spells a flag as the synopses do: -c, --wait.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// valueName is what a flag takes, as the synopsis names it ("--wait
// DURATION"), else from its type; "" for a boolean flag.
func valueName(f *flag.Flag, synopsis string) string {
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		return ""
	}
	fields := strings.Fields(strings.NewReplacer("[", " ", "]", " ", "|", " ").Replace(synopsis))
	for i, w := range fields {
		if w == flagName(f.Name) && i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") && strings.ToUpper(fields[i+1]) == fields[i+1] {
			return strings.TrimSuffix(fields[i+1], "...")
		}
	}
	_, kind := flag.UnquoteUsage(f)
	switch kind {
	case "", "value":
		return "VALUE"
	case "duration":
		return "DURATION"
	default:
		return strings.ToUpper(kind)
	}
}

// respell spells the flag in package flag's messages as the synopses do:
// "flag provided but not defined: --wiat", not "-wiat".
func respell(msg string) string {
	if i := strings.LastIndex(msg, ": -"); i >= 0 {
		if name := strings.TrimLeft(msg[i+2:], "-"); name != "" && !strings.ContainsAny(name, " :") {
			return msg[:i+2] + flagName(name)
		}
	}
	return msg
}

// suggestFlag is " (did you mean --wait?)" for an undefined flag close to a
// defined one, else "".
func suggestFlag(fs *flag.FlagSet, msg string) string {
	const undefined = "flag provided but not defined: "
	if !strings.HasPrefix(msg, undefined) {
		return ""
	}
	typed := strings.TrimLeft(strings.TrimPrefix(msg, undefined), "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := config.Suggest(typed, names); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", flagName(s))
	}
	return ""
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
