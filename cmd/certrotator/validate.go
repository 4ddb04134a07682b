package main

import (
	"errors"
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

func cmdValidate(e *env, args []string) int {
	fs := newFlags(e, "validate", "-c FILE")
	path := configFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return usageError(e, "validate takes no arguments, got %q", pos)
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	// The same checks that starting the worker makes, short of the network.
	if _, err := assemble(cfg, newLogger(cfg.Log, io.Discard)); err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", *path, err)
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "%s: ok\n%s", *path, cfg.Summary())
	return exitOK
}
