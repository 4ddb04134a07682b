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

// parseJob is parseConfig for the commands that act on one JOB of the
// worker's file (history, rollback), with the job looked up in it. cfg is
// nil when the command should exit with code; the error is printed.
func parseJob(e *env, fs *flag.FlagSet, args []string, path *string) (*config.Config, jobs.Job, int) {
	cfg, pos, code := parseConfig(e, fs, args, path)
	if cfg == nil {
		return nil, jobs.Job{}, code
	}
	job, code := findJob(e, cfg, pos[0]) // did-you-mean, as rotate and plan
	if code != exitOK {
		return nil, jobs.Job{}, code
	}
	return cfg, job, exitOK
}
