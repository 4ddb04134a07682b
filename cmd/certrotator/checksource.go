package main

import (
	"flag"
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

func cmdCheckSource(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	st, selected, code := jobsFromFlags(e, fs, args, path)
	if st == nil {
		return code
	}
	for _, j := range selected {
		r := checkOne(e, st.source, j)
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

// jobsFromFlags parses the flags of a command that takes `-c FILE [JOB]`,
// loads the config, picks the named job or all of them, and builds the
// parts the config describes with their logs discarded: check-source and
// plan read and decide, they do not serve. On failure st is nil and code
// is the exit code (3 when Vault cannot be reached).
func jobsFromFlags(e *env, fs *flag.FlagSet, args []string, path *string) (st *stack, selected []jobs.Job, code int) {
	cfg, pos, code := parseConfig(e, fs, args, path)
	if cfg == nil {
		return nil, nil, code
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	}
	if cfg.Publisher() { // it lists no job to read or plan
		return nil, nil, usageError(e, "%v", unknownJob(cfg, name))
	}
	var err error
	if selected, err = selectJobs(cfg, name); err != nil {
		return nil, nil, usageError(e, "%v", err)
	}
	if st, err = build(e.ctx, cfg, wiring{logger: newLogger(cfg.Log, io.Discard)}); err != nil {
		return nil, nil, failure(e, err)
	}
	return st, selected, exitOK
}
