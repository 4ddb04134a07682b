package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

func cmdStatus(e *env, args []string) int {
	fs := newFlags(e, "status", "-c FILE [--json]")
	path := fs.String("c", "", "config file")
	asJSON := fs.Bool("json", false, "one JSON object per connector")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return usageError(e, "status takes no arguments")
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	c, err := worker.Dial(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	defer c.Close()
	outcomes, err := c.Status(e.ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
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
	since := fs.Duration("since", 24*time.Hour, "print events newer than this")
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return usageError(e, "events takes no arguments")
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	c, err := worker.Dial(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	defer c.Close()
	err = c.Events(e.ctx, *since, *follow, func(ev worker.Event) error { return printJSON(e, ev) })
	if err != nil && e.ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	return exitOK
}
