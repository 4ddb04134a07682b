package main

import (
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

type rotateFlags struct {
	path       string
	connectors stringList
	force      bool
	reason     string
	wait       time.Duration
	local      bool
}

func cmdRotate(e *env, args []string) int {
	fs := newFlags(e, "rotate", "-c FILE JOB [--connector ID]... [--force] [--reason TEXT] [--wait DURATION | --local]")
	var f rotateFlags
	fs.StringVar(&f.path, "c", "", "config file")
	fs.Var(&f.connectors, "connector", "connector id to rotate (repeatable; default: all of the job's)")
	fs.BoolVar(&f.force, "force", false, "upload even when present or not newer (rollback)")
	fs.StringVar(&f.reason, "reason", "", "why, for the audit trail")
	durationVar(fs, &f.wait, "wait", 0, "wait this long for the outcomes, print them, exit 1 if any failed")
	fs.BoolVar(&f.local, "local", false, "run the pipeline in this process, without NATS")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError(e, "rotate takes one JOB")
	}
	if f.local && f.wait > 0 {
		return usageError(e, "--wait goes with a NATS request, not --local")
	}
	cfg, ok := loadConfig(e, f.path)
	if !ok {
		return exitUsage
	}
	job, ok := cfg.Job(pos[0])
	if !ok {
		return usageError(e, "no job %q in %s", pos[0], f.path)
	}
	req := jobs.Request{
		Job: job.Name, Connectors: f.connectors, Force: f.force, Reason: f.reason,
		RequestedBy: requester(e), Trigger: jobs.TriggerManual,
	}
	if f.local {
		return rotateLocal(e, cfg, job, req)
	}
	return rotateRemote(e, cfg, req, f.wait)
}

// requester names who asked, for the audit trail: the OS user at this host.
func requester(e *env) string {
	user, _ := e.lookup("USER")
	host, _ := os.Hostname()
	if user == "" {
		user = "unknown"
	}
	return user + "@" + host
}

func rotateLocal(e *env, cfg *config.Config, job jobs.Job, req jobs.Request) int {
	logger := newLogger(cfg.Log, e.stderr)
	p, err := build(e.ctx, cfg, wiring{logger: logger})
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	req.ID = "local-" + uuid.NewString()
	req.Attempt = 1
	outcomes := p.rotator.Rotate(e.ctx, job, req)
	code := exitOK
	for _, o := range outcomes {
		if o.Status == jobs.StatusFailed {
			code = exitFailed
		}
		if printJSON(e, contract.NewEvent(cfg.Instance, o, time.Now())) != nil {
			return exitFailed
		}
	}
	return code
}

func rotateRemote(e *env, cfg *config.Config, req jobs.Request, wait time.Duration) int {
	c, err := dial(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	defer c.Close()
	if wait <= 0 {
		id, err := c.Publish(e.ctx, req)
		if err != nil {
			fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(e.stdout, "requested %s (request id %s)\n", req.Job, id)
		return exitOK
	}
	failed := false
	err = c.PublishAndWait(e.ctx, req, wait, func(ev contract.Event) error {
		if ev.Data.Status == jobs.StatusFailed {
			failed = true
		}
		return printJSON(e, ev)
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	if failed {
		return exitFailed
	}
	return exitOK
}
