package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
)

func cmdEvents(e *env, fs *flag.FlagSet, args []string) int {
	nf := addNATSFlags(e, fs)
	var since time.Duration
	durationVar(fs, &since, "since", 24*time.Hour, "print events newer than this (e.g. 90m, 7d)")
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	asJSON := fs.Bool("json", false, "print each event as a CloudEvent JSON line")
	return nf.session(e, fs, args, func(c *client.Conn, _ *config.Config) int {
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
	})
}
