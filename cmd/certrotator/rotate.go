package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/google/uuid"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

type rotateFlags struct {
	connectors stringList
	force      bool
	reason     string
	wait       time.Duration
	local      bool
	json       bool
}

func cmdRotate(e *env, fs *flag.FlagSet, args []string) int {
	var f rotateFlags
	nf := addNATSFlags(e, fs)
	fs.Var(&f.connectors, "connector", "connector id to rotate (repeatable; default: all of the job's)")
	fs.BoolVar(&f.force, "force", false, "upload even when present or not newer (rollback)")
	fs.StringVar(&f.reason, "reason", "", "why, for the audit trail")
	durationVar(fs, &f.wait, "wait", 0, "wait this long for the outcomes, print them, exit 1 if any failed")
	fs.BoolVar(&f.local, "local", false, "run the pipeline in this process, without NATS (needs -c)")
	fs.BoolVar(&f.json, "json", false, "with --wait: print each outcome as a raw CloudEvent JSON line")
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	name := pos[0]
	if f.local && f.wait > 0 {
		return usageError(e, "--wait goes with a NATS request, not --local")
	}
	req := jobs.Request{
		Job: name, Connectors: f.connectors, Force: f.force, Reason: f.reason,
		RequestedBy: requester(e), Trigger: contract.TriggerManual,
	}
	if f.local {
		cfg, ok := loadConfig(e, nf.path)
		if !ok {
			return exitUsage
		}
		if cfg.Publisher() {
			return usageError(e, "--local runs the rotation here and needs the worker's config (vault, tenants, jobs); %s is a publisher config (NATS only)", cfg.Path)
		}
		job, code := findJob(e, cfg, name)
		if code != exitOK {
			return code
		}
		return rotateLocal(e, cfg, job, req)
	}
	t, code := nf.resolve(e)
	if code != exitOK {
		return code
	}
	if t.cfg != nil {
		if _, code := findJob(e, t.cfg, name); code != exitOK {
			return code
		}
	} else if !jobs.ValidName(name) {
		return usageError(e, "%q is not a job name: letters, digits, - and _", name)
	}
	if code := t.check(e); code != exitOK {
		return code
	}
	c, err := t.dial(e)
	if err != nil {
		return failure(e, err)
	}
	defer c.Close()
	return rotateRemote(e, c, req, f.wait, f.json)
}

// requester names who asked, for the audit trail: the OS user at this host
// ($USER, else $LOGNAME, else the account the process runs as).
func requester(e *env) string {
	name, _ := e.lookup("USER")
	if name == "" {
		name, _ = e.lookup("LOGNAME")
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	return cmp.Or(name, "unknown") + "@" + host
}

func rotateLocal(e *env, cfg *config.Config, job jobs.Job, req jobs.Request) int {
	logger := newLogger(cfg.Log, e.stderr)
	p, err := build(e.ctx, cfg, wiring{logger: logger})
	if err != nil {
		return failure(e, err)
	}
	req.ID = "local-" + uuid.NewString()
	req.Attempt = 1
	outcomes := p.rotator.Rotate(e.ctx, job, req)
	code := exitOK
	for _, o := range outcomes {
		if o.Status == contract.StatusFailed {
			code = exitFailed
		}
		if printJSON(e, contract.NewEvent(cfg.Instance, o, e.now())) != nil {
			return exitFailed
		}
	}
	return code
}

// rotateRemote publishes req; with a wait, it prints each outcome (one
// line, or the raw CloudEvent with asJSON) and a tally, and exits 1 if
// any failed.
func rotateRemote(e *env, c *client.Conn, req jobs.Request, wait time.Duration, asJSON bool) int {
	if wait <= 0 {
		id, err := c.Publish(e.ctx, req)
		if err != nil {
			return failure(e, err)
		}
		fmt.Fprintf(e.stdout, "requested %s (request id %s)\n", req.Job, id)
		return exitOK
	}
	start := e.now()
	var t tally
	err := c.PublishAndWait(e.ctx, req, wait, func(ev contract.Event) error {
		t.add(ev.Data)
		if asJSON {
			return printJSON(e, ev)
		}
		o := ev.Data
		line := fmt.Sprintf("%-9s  %s", o.Status, where(o))
		if d := detail(o, e.now()); d != "" {
			line += "  " + d
		}
		_, err := fmt.Fprintln(e.stdout, printable(line))
		return err
	})
	if !asJSON {
		fmt.Fprintln(e.stdout, t.line(e.now().Sub(start)))
	}
	if err != nil {
		return failure(e, err)
	}
	if t.failed > 0 {
		return exitFailed
	}
	return exitOK
}
