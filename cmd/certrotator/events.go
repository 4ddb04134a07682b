package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/certrotator/certrotator/contract"
)

func cmdEvents(e *env, args []string) int {
	fs := newFlags(e, "events", "[-c FILE | --server URL | --context NAME] [--since DURATION] [--follow] [--json]")
	nf := addNATSFlags(e, fs)
	var since time.Duration
	durationVar(fs, &since, "since", 24*time.Hour, "print events newer than this (e.g. 90m, 7d)")
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	asJSON := fs.Bool("json", false, "print each event as a CloudEvent JSON line")
	if code, ok := noArgs(e, fs, args); !ok {
		return code
	}
	c, _, code := nf.connect(e)
	if c == nil {
		return code
	}
	defer c.Close()
	err := c.Events(e.ctx, since, *follow, func(ev contract.Event) error {
		if *asJSON {
			return printJSON(e, ev)
		}
		_, err := fmt.Fprintln(e.stdout, eventLine(ev, e.now()))
		return err
	})
	if err != nil && e.ctx.Err() == nil {
		return failure(e, err)
	}
	return exitOK
}

// noArgs parses the flags of a command that takes no arguments. ok is
// false when the command should exit with code.
func noArgs(e *env, fs *flag.FlagSet, args []string) (int, bool) {
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err), false
	}
	if len(pos) > 0 {
		return usageError(e, "%s takes no arguments", fs.Name()), false
	}
	return exitOK, true
}
