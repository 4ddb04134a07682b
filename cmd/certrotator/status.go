package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

func cmdStatus(e *env, args []string) int {
	fs := newFlags(e, "status", "-c FILE [--json]")
	path := fs.String("c", "", "config file")
	asJSON := fs.Bool("json", false, "one JSON object per connector")
	c, code := dialFromFlags(e, fs, args, path)
	if c == nil {
		return code
	}
	defer c.Close()
	entries, err := c.Status(e.ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	outcomes := make([]jobs.Outcome, len(entries))
	for i, en := range entries {
		outcomes[i] = en.Outcome
	}
	if *asJSON {
		for _, o := range outcomes {
			if printJSON(e, o) != nil {
				return exitFailed
			}
		}
		return exitOK
	}
	printStatus(e.stdout, outcomes)
	return exitOK
}

func printStatus(w io.Writer, outcomes []jobs.Outcome) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCONNECTOR\tOUTCOME\tREASON\tTHUMBPRINT\tNOT AFTER\tATTEMPT")
	for _, o := range outcomes {
		tp, notAfter := "-", "-"
		if o.Certificate != nil {
			tp = short(o.Certificate.Thumbprint)
			if !o.Certificate.NotAfter.IsZero() {
				notAfter = o.Certificate.NotAfter.UTC().Format(time.DateOnly)
			}
		}
		reason := o.Reason
		if o.Error != nil {
			reason = o.Error.Code
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", o.Job, o.Connector, o.Status, reason, tp, notAfter, o.Attempt)
	}
	tw.Flush()
}

func cmdEvents(e *env, args []string) int {
	fs := newFlags(e, "events", "-c FILE [--since DURATION] [--follow]")
	path := fs.String("c", "", "config file")
	var since time.Duration
	durationVar(fs, &since, "since", 24*time.Hour, "print events newer than this (e.g. 90m, 7d)")
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	c, code := dialFromFlags(e, fs, args, path)
	if c == nil {
		return code
	}
	defer c.Close()
	err := c.Events(e.ctx, since, *follow, func(ev contract.Event) error { return printJSON(e, ev) })
	if err != nil && e.ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// dialFromFlags parses a NATS-only command's flags (it takes no arguments),
// loads the config and connects to its NATS. On failure the client is nil
// and code is the exit code.
func dialFromFlags(e *env, fs *flag.FlagSet, args []string, path *string) (*client.Conn, int) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, flagError(err)
	}
	if len(pos) > 0 {
		return nil, usageError(e, "%s takes no arguments", fs.Name())
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return nil, exitUsage
	}
	c, err := dial(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return nil, exitFailed
	}
	return c, exitOK
}
