package main

import (
	"fmt"
	"io"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/jobs"
)

// sourceReport is check-source's line per job: where the bundle is, its
// version, and the same judgement `inspect` prints.
type sourceReport struct {
	Job     string `json:"job"`
	Source  string `json:"source"`
	Version int    `json:"version,omitempty"`
	bundle.Report
	Error *jobs.ErrorInfo `json:"error,omitempty"`
}

func cmdCheckSource(e *env, args []string) int {
	fs := newFlags(e, "check-source", "-c FILE [JOB]")
	path := fs.String("c", "", "config file")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 1 {
		return usageError(e, "check-source takes at most one JOB")
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	selected, err := selectJobs(cfg, first(pos))
	if err != nil {
		return usageError(e, "%v", err)
	}
	src, err := newSource(e.ctx, cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	code := exitOK
	for _, j := range selected {
		r := checkOne(e, src, j)
		if r.Verdict == bundle.VerdictReject {
			code = exitFailed
		}
		if printJSON(e, r) != nil {
			return exitFailed
		}
	}
	return code
}

func checkOne(e *env, src jobs.Source, j jobs.Job) sourceReport {
	r := sourceReport{Job: j.Name, Source: j.Source.Mount + "/" + j.Source.Path}
	m, err := src.Fetch(e.ctx, j.Source)
	if err != nil {
		f := jobs.AsFailure(err)
		r.Report = bundle.Report{Verdict: bundle.VerdictReject, Problems: []bundle.Problem{{Code: bundle.Code(f.Code), Message: err.Error()}}}
		r.Error = &jobs.ErrorInfo{Code: f.Code, Class: f.Class, Message: err.Error()}
		return r
	}
	r.Version = m.Version
	r.Report = bundle.Judge(m.PFX, m.Password, time.Now(), j.MinValidity)
	return r
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
