package main

import (
	"cmp"
	"errors"
	"flag"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
)

// errNoNATSTarget: a NATS command found nothing telling it where to connect.
var errNoNATSTarget = errors.New("no NATS to talk to: give -c FILE (or set CERTROTATOR_CONFIG), --server URL, set NATS_URL, or select a nats context (nats context select NAME)")

// natsFlags are the flags of the commands that talk to a deployment over
// NATS. The config is optional for them: an operator on a laptop usually
// has a NATS URL or a nats CLI context, not the worker's config file.
type natsFlags struct {
	path    string
	server  string
	context string
}

// addNATSFlags defines -c, --server and --context on fs.
func addNATSFlags(e *env, fs *flag.FlagSet) *natsFlags {
	f := &natsFlags{}
	configVar(e, fs, &f.path)
	fs.StringVar(&f.server, "server", "", "NATS URL (overrides the config's or the context's; default $NATS_URL)")
	fs.StringVar(&f.context, "context", "", "nats CLI context to connect with (default $NATS_CONTEXT, then the selected one)")
	return f
}

// target is where a NATS command connects, and what it knows of the jobs.
type target struct {
	url      string
	settings config.NATS
	token    string
	cfg      *config.Config // nil without a config file
}

// resolve picks the connection in this order: an explicit --context, the
// config (-c or CERTROTATOR_CONFIG), NATS_URL, the selected nats context.
// --server then replaces the URL and keeps the credentials. A code other
// than exitOK is the command's exit code; the problem is printed.
func (f *natsFlags) resolve(e *env) (target, int) {
	var t target
	switch envURL, _ := e.lookup("NATS_URL"); {
	case f.context != "":
		c, err := loadNATSContext(e, f.context)
		if err != nil {
			return t, usageError(e, "%v", err)
		}
		t = contextTarget(c)
	case f.path != "":
		cfg, ok := loadConfig(e, f.path)
		if !ok {
			return t, exitUsage
		}
		t = configTarget(cfg)
	case envURL != "":
		t = target{url: envURL, settings: config.NATS{SubjectPrefix: config.SubjectPrefixDefault}}
		t.settings.CredsFile, _ = e.lookup("NATS_CREDS")
	default:
		c, err := loadNATSContext(e, "")
		switch {
		case errors.Is(err, errNoContext) && f.server == "":
			return t, usageError(e, "%v", errNoNATSTarget)
		case errors.Is(err, errNoContext): // --server alone
		case err != nil:
			return t, usageError(e, "%v", err)
		default:
			t = contextTarget(c)
		}
	}
	if f.server != "" {
		t.url = f.server
		t.settings.SubjectPrefix = cmp.Or(t.settings.SubjectPrefix, config.SubjectPrefixDefault)
	}
	return t, exitOK
}

// check says, as a usage error, when the target has no URL to dial: a
// config for the embedded server that listens on no socket.
func (t target) check(e *env) int {
	switch {
	case t.url != "":
		return exitOK
	case t.cfg != nil:
		return usageError(e, "%v", errNoNATS)
	default:
		return usageError(e, "%v", errNoNATSTarget)
	}
}

// configTarget is the NATS a config names: nats.url, or nats.listen of a
// worker running an embedded server.
func configTarget(cfg *config.Config) target {
	t := target{url: cfg.NATS.URL, settings: cfg.NATS, cfg: cfg}
	if t.url == "" && cfg.NATS.Listen != "" {
		t.url = "nats://" + dialable(cfg.NATS.Listen)
	}
	return t
}

// dialConfig connects to the NATS a loaded config names.
func dialConfig(e *env, cfg *config.Config) (*client.Conn, error) {
	t := configTarget(cfg)
	if t.url == "" {
		return nil, errNoNATS
	}
	return t.dial(e)
}

func contextTarget(c natsContext) target {
	return target{url: c.URL, settings: c.natsSettings(), token: c.Token}
}

// dial connects to the target with its credentials.
func (t target) dial(e *env) (*client.Conn, error) {
	instance := "cli"
	if t.cfg != nil {
		instance = t.cfg.Instance
	}
	opts, err := bus.ClientOptions(natsOptions(t.settings, "certrotator-cli/"+instance, instance, nil))
	if err != nil {
		return nil, err
	}
	if t.token != "" {
		opts = append(opts, nats.Token(t.token))
	}
	opts = append(opts, nats.ErrorHandler(noteDenied(e)))
	var sizes map[string]int
	if t.cfg != nil {
		sizes = make(map[string]int, len(t.cfg.Jobs))
		for _, j := range t.cfg.Jobs {
			sizes[j.Name] = len(j.Connectors) + len(j.KeySets) // one final outcome per target
		}
	}
	return client.Dial(e.ctx, t.url, client.Options{SubjectPrefix: t.settings.SubjectPrefix, Jobs: sizes, NATS: opts})
}

// session is the body of a command that reads a deployment over NATS
// (status, events): it parses args as parseArgs does, resolves the flags
// and dials, then hands use the connection and the config (nil without a
// file) and closes the connection after. A failure before use is printed
// and its exit code returned.
func (f *natsFlags) session(e *env, fs *flag.FlagSet, args []string, use func(*client.Conn, *config.Config) int) int {
	if _, code, ok := parseArgs(e, fs, args); !ok {
		return code
	}
	t, code := f.resolve(e)
	if code == exitOK {
		code = t.check(e)
	}
	if code != exitOK {
		return code
	}
	c, err := t.dial(e)
	if err != nil {
		return failure(e, err)
	}
	defer c.Close()
	return use(c, t.cfg)
}
