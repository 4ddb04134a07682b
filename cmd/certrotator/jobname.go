package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// unknownJob is the error for a job the config does not have: it suggests
// the closest name, then lists them all, so a typo costs one look.
func unknownJob(cfg *config.Config, name string) error {
	if cfg.Publisher() {
		return fmt.Errorf("%s is a publisher config (NATS only), which serves rotate, status, events and history: "+
			"this command needs the worker's config, with vault, tenants and jobs", cfg.Path)
	}
	names := make([]string, len(cfg.Jobs))
	for i, j := range cfg.Jobs {
		names[i] = j.Name
	}
	msg := fmt.Sprintf("no job %q in %s", name, cfg.Path)
	if s := cfg.SuggestJob(name); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return fmt.Errorf("%s (jobs: %s)", msg, strings.Join(names, ", "))
}

// findJob looks the job up in the config; when it is not there it says so
// with a suggestion and returns the usage exit code. A publisher config
// knows no jobs: any valid name goes to the workers, which answer a job
// they do not know with an outcome that says so.
func findJob(e *env, cfg *config.Config, name string) (jobs.Job, int) {
	if cfg.Publisher() {
		if !jobs.ValidName(name) {
			return jobs.Job{}, usageError(e, "%q is not a job name: letters, digits, - and _", name)
		}
		return jobs.Job{Name: name}, exitOK
	}
	j, ok := cfg.Job(name)
	if !ok {
		return jobs.Job{}, usageError(e, "%v", unknownJob(cfg, name))
	}
	return j, exitOK
}

// loadJob reads the config file at path and looks the named job up in it,
// for the commands that act on one job of the worker's file (history,
// rollback). code is the exit code to return when it is not exitOK; the
// error is printed already.
func loadJob(e *env, path, name string) (*config.Config, jobs.Job, int) {
	cfg, ok := loadConfig(e, path)
	if !ok {
		return nil, jobs.Job{}, exitUsage
	}
	job, code := findJob(e, cfg, name) // did-you-mean, as rotate and plan
	return cfg, job, code
}

// oneJob parses args and returns the one JOB they must name, for the
// commands that act on one job (rotate, history, rollback); when they do
// not, the error is printed and code is the exit code.
func oneJob(e *env, fs *flag.FlagSet, args []string) (job string, code int, ok bool) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", flagError(err), false
	}
	if len(pos) != 1 {
		return "", usageError(e, "%s takes one JOB", fs.Name()), false
	}
	return pos[0], exitOK, true
}
