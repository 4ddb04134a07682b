package main

import (
	"strconv"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// cmdRollback publishes a forced request pinned to a KV version: that
// version's certificate is uploaded again and so becomes the active one
// (rule 2), and its outcome's reason says rollback. A version Vault deleted
// or destroyed fails permanently in the worker, with a message that says so.
func cmdRollback(e *env, args []string) int {
	fs := newFlags(e, "rollback", "-c FILE JOB --to-version N [--connector ID]... [--wait DURATION [--json]]")
	path := fs.String("c", "", "config file")
	version := fs.Int("to-version", 0, "the Vault KV version to roll back to (required)")
	var connectors stringList
	fs.Var(&connectors, "connector", "connector id to roll back (repeatable; default: all of the job's)")
	var wait time.Duration
	durationVar(fs, &wait, "wait", 0, "wait this long for the outcomes, print them, exit 1 if any failed")
	asJSON := fs.Bool("json", false, "with --wait: print the outcomes as CloudEvent JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError(e, "rollback takes one JOB")
	}
	if *version <= 0 {
		return usageError(e, "rollback needs --to-version N, a KV version (see `certrotator history`)")
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	job, code := findJob(e, cfg, pos[0]) // did-you-mean, as rotate and plan
	if code != exitOK {
		return code
	}
	req := jobs.Request{
		Job: job.Name, Connectors: connectors, Force: true, Version: *version,
		Reason: "rollback to version " + strconv.Itoa(*version), RequestedBy: requester(e), Trigger: jobs.TriggerManual,
	}
	c, err := dialConfig(e, cfg)
	if err != nil {
		return failure(e, err) // exit 3 when NATS cannot be reached
	}
	defer c.Close()
	return rotateRemote(e, c, req, wait, *asJSON)
}
