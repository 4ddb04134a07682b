package main

import (
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// unknownJob is the error for a job the config does not have: it suggests
// the closest name, then lists them all, so a typo costs one look.
func unknownJob(cfg *config.Config, name string) error {
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
// with a suggestion and returns the usage exit code.
func findJob(e *env, cfg *config.Config, name string) (jobs.Job, int) {
	j, ok := cfg.Job(name)
	if !ok {
		return jobs.Job{}, usageError(e, "%v", unknownJob(cfg, name))
	}
	return j, exitOK
}
