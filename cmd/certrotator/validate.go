package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/certrotator/certrotator/config"
)

// loadConfig loads the file named by -c, else by $CERTROTATOR_CONFIG (so
// that every command reads it, whether its -c defaults to it or not), and
// prints every problem when it is invalid. ok is false when the command
// should exit with exitUsage.
func loadConfig(e *env, path string) (*config.Config, bool) {
	if path == "" {
		path, _ = e.lookup("CERTROTATOR_CONFIG")
	}
	if path == "" {
		usageError(e, "-c FILE is required (or set CERTROTATOR_CONFIG)")
		return nil, false
	}
	cfg, err := config.Load(path)
	if err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			fmt.Fprintln(e.stderr, ve.Error())
		} else {
			fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		}
		return nil, false
	}
	return cfg, true
}

// validation is what validate found, and its --json form.
type validation struct {
	File  string `json:"file"`
	Valid bool   `json:"valid"`
	// Kind is "worker" for a config `run` can start, "publisher" for a
	// NATS-only config that serves rotate, status, events and history.
	Kind     string           `json:"kind,omitempty"`
	Problems []config.Problem `json:"problems,omitempty"`
	Summary  string           `json:"summary,omitempty"`
}

// publisherNote is what validate says of a publisher config.
const publisherNote = "a publisher config (NATS only): it serves rotate, status, events and history; " +
	"run, plan, check-source and doctor need the worker's config"

func cmdValidate(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object: file, valid, kind, problems (line, key, message), summary")
	if _, code, ok := parseArgs(e, fs, args); !ok {
		return code
	}
	if *path == "" {
		return usageError(e, "-c FILE is required (or set CERTROTATOR_CONFIG)")
	}
	v, text := validate(*path)
	if *asJSON {
		if printJSON(e, v) != nil {
			return exitFailed
		}
	} else if v.Valid {
		head := *path + ": ok"
		if v.Kind == "publisher" {
			head += ", " + publisherNote
		}
		fmt.Fprintf(e.stdout, "%s\n%s", head, v.Summary)
	} else {
		fmt.Fprintln(e.stderr, text)
	}
	if !v.Valid {
		return exitUsage
	}
	return exitOK
}

// validate loads the config at path and makes the checks that starting
// the worker makes, short of the network; a publisher config is checked
// for what the publishing commands need instead. text is the problems as
// the human output prints them.
func validate(path string) (v validation, text string) {
	v = validation{File: path}
	cfg, err := config.Load(path)
	var ve *config.ValidationError
	switch {
	case errors.As(err, &ve):
		v.Problems = ve.Problems
		return v, ve.Error()
	case err != nil:
		v.Problems = []config.Problem{{Message: err.Error()}}
		return v, "certrotator: " + err.Error()
	}
	if cfg.Publisher() {
		v.Kind = "publisher"
		if configTarget(cfg).url == "" {
			p := config.Problem{Key: "nats.url", Message: "a publisher config (no vault, tenants or jobs) needs the URL " +
				"of the NATS the workers use: set nats.url (and its credentials, creds_file or nkey_file)"}
			v.Problems = []config.Problem{p}
			return v, path + ": " + p.String()
		}
	} else {
		v.Kind = "worker"
		if _, err := assemble(cfg, newLogger(cfg.Log, io.Discard)); err != nil {
			v.Problems = []config.Problem{{Message: err.Error()}}
			return v, path + ": " + err.Error()
		}
	}
	v.Valid, v.Summary = true, cfg.Summary()
	return v, ""
}
