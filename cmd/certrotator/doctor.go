package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certrotator/certrotator/vaultsrc"
)

// Verdicts of a doctor finding. A warning does not fail the run.
const (
	verdictOK   = "ok"
	verdictFail = "FAIL"
	verdictWarn = "warn"
)

// doctorTimeoutDefault bounds each network check, so that one unreachable
// part cannot hang the whole report.
const doctorTimeoutDefault = 20 * time.Second

// finding is one line of doctor's report: what was checked, the verdict and,
// unless it passed, what to do about it. It never holds a secret.
type finding struct {
	Area    string `json:"area"` // config, vault, graph, nats
	Check   string `json:"check"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// doctor runs the checks of `certrotator doctor` in order and prints each
// finding as soon as it is made, so a slow check shows where it is stuck.
type doctor struct {
	e           *env
	json        bool
	readBundles bool
	timeout     time.Duration
	failed      bool
	vault       *vaultsrc.Client // logged in by checkVault; nil when it failed
}

func cmdDoctor(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	d := &doctor{e: e}
	fs.BoolVar(&d.readBundles, "read-bundles", false, "read each job's bundle and judge it (default: its metadata only)")
	fs.BoolVar(&d.json, "json", false, "print one JSON object per check")
	durationVar(fs, &d.timeout, "timeout", doctorTimeoutDefault, "bound on each network check")
	if _, code, ok := parseArgs(e, fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		if *path != "" {
			d.report(finding{Area: "config", Check: *path, Verdict: verdictFail, Detail: "invalid (problems above)",
				Fix: "fix each problem listed with its line; `certrotator validate -c " + *path + "` lists them again"})
		}
		return exitUsage
	}
	off, err := assemble(cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		d.report(finding{Area: "config", Check: *path, Verdict: verdictFail, Detail: err.Error(),
			Fix: "this is what `certrotator run` would refuse at start: correct the config and run doctor again"})
		return exitUsage
	}
	d.report(finding{Area: "config", Check: *path, Verdict: verdictOK,
		Detail: fmt.Sprintf("%d jobs, %d tenants", len(cfg.Jobs), len(cfg.Tenants))})
	d.checkVault(cfg, off)
	d.checkGraph(cfg, off)
	d.checkKeySets(cfg, off)
	d.checkInventory(cfg, off)
	d.checkProbes(cfg, off)
	d.checkCredentials(cfg)
	d.checkNATS(cfg)
	if d.failed {
		return exitFailed
	}
	return exitOK
}

// report prints f and remembers a failure.
func (d *doctor) report(f finding) {
	if f.Verdict == verdictFail {
		d.failed = true
	}
	if d.json {
		_ = printJSON(d.e, f) // printJSON reports a broken stdout itself
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s  %-6s %s", f.Verdict, f.Area, f.Check)
	if f.Detail != "" {
		b.WriteString(": " + f.Detail)
	}
	if f.Fix != "" {
		b.WriteString("\n              fix: " + f.Fix)
	}
	fmt.Fprintln(d.e.stdout, b.String())
}

// ctx bounds one network check.
func (d *doctor) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.e.ctx, d.timeout)
}
