package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// statusRow is one connector's line of `status`: the latest outcome's data,
// as the status bucket stores it, plus what an operator asks next: the
// active certificate and its days left, when a certificate was last
// uploaded (a later skip does not hide it), the next scheduled run (known
// only with a config) and when the entry was stored. With a config that
// has jobs, an entry it does not configure (a connector or job removed) is
// marked configured=false, with the time after which the worker removes
// it (worker/statusview/prune.go). Its JSON keeps the outcome's keys at the top
// level, so scripts written for the plain outcome keep working.
type statusRow struct {
	jobs.Outcome
	Updated    time.Time      `json:"updated"`
	Active     *jobs.CertInfo `json:"active"`
	DaysLeft   *int           `json:"days_left"`
	LastUpload *time.Time     `json:"last_upload"`
	NextRun    *time.Time     `json:"next_run"`
	// NextWindow is the job's next change window start (from the config,
	// else from an outside_window skip while it is ahead); it shadows the
	// outcome's own next_window. WindowOpen is known only with a config.
	NextWindow   *time.Time `json:"next_window,omitempty"`
	WindowOpen   *bool      `json:"window_open,omitempty"`
	Configured   *bool      `json:"configured,omitempty"`
	RemovedAfter *time.Time `json:"removed_after,omitempty"`
}

func cmdStatus(e *env, fs *flag.FlagSet, args []string) int {
	nf := addNATSFlags(e, fs)
	asJSON := fs.Bool("json", false, "one JSON object per connector")
	return nf.session(e, fs, args, func(c *client.Conn, cfg *config.Config) int {
		entries, err := c.Status(e.ctx)
		if err != nil {
			return failure(e, err)
		}
		uploads, err := c.LastSucceeded(e.ctx)
		if err != nil {
			return failure(e, err)
		}
		rows := statusRows(entries, uploads, cfg, e.now())
		if *asJSON {
			for _, r := range rows {
				if printJSON(e, r) != nil {
					return exitFailed
				}
			}
			return exitOK
		}
		printStatus(e.stdout, rows, e.now())
		return exitOK
	})
}

// statusRows joins the status entries with the last uploads and, with a
// config, the next scheduled runs.
func statusRows(entries []client.StatusEntry, uploads map[string]contract.Event, cfg *config.Config, now time.Time) []statusRow {
	rows := make([]statusRow, len(entries))
	for i, en := range entries {
		r := statusRow{Outcome: en.Outcome, Updated: en.Updated.UTC()}
		if a := activeCert(en.Outcome); a != nil && !a.NotAfter.IsZero() {
			d := daysLeft(a.NotAfter, now)
			r.Active, r.DaysLeft = a, &d
		}
		if ev, ok := uploads[en.Key]; ok {
			at := ev.Time.UTC()
			r.LastUpload = &at
		}
		if cfg != nil {
			if j, ok := cfg.Job(en.Outcome.Job); ok && j.Next != nil {
				next := j.Next.Next(now).UTC()
				r.NextRun = &next
			}
		}
		r.NextWindow, r.WindowOpen = nextWindow(en.Outcome, cfg, now)
		if cfg != nil && len(cfg.Jobs) > 0 { // a publisher's config knows no jobs
			configured := configures(cfg, en.Outcome.Job, en.Outcome.Connector)
			r.Configured = &configured
			if !configured {
				at := en.Updated.Add(contract.StatusPruneAfter).UTC()
				r.RemovedAfter, r.NextRun = &at, nil
			}
		}
		rows[i] = r
	}
	return rows
}

// configures reports whether cfg has the job and, unless connector is
// empty (a request that failed before any connector), that connector in it
// (ignoring case, as the worker matches it).
func configures(cfg *config.Config, job, connector string) bool {
	j, ok := cfg.Job(job)
	if !ok {
		return false
	}
	if connector == "" {
		return true
	}
	if _, ok := j.KeySet(connector); ok { // a key set's entry names its id
		return true
	}
	_, ok = j.Connector(connector)
	return ok
}

func printStatus(w io.Writer, rows []statusRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCONNECTOR\tOUTCOME\tREASON\tTHUMBPRINT\tDAYS LEFT\tLAST UPLOAD\tNEXT RUN\tNEXT WINDOW\tVERSION\tREQUESTED")
	var early []statusRow
	removed := false
	for _, r := range rows {
		o := r.Outcome
		if o.Connector == "" {
			early = append(early, r)
			continue
		}
		tp, days, version := "-", "-", "-"
		if r.Active != nil {
			tp = short(r.Active.Thumbprint)
		}
		if r.DaysLeft != nil {
			days = fmt.Sprint(*r.DaysLeft)
		}
		if o.Certificate != nil && o.Certificate.SourceVersion > 0 {
			version = fmt.Sprint(o.Certificate.SourceVersion)
		}
		reason := o.Reason
		if o.Error != nil {
			reason = o.Error.Code
		}
		open := r.WindowOpen != nil && *r.WindowOpen
		next := ago(r.NextRun, now)
		if r.Configured != nil && !*r.Configured {
			next, removed = "not configured*", true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(o.Job), printable(o.Connector), printable(o.Status),
			printable(dash(reason)), tp, days, ago(r.LastUpload, now), next, windowText(open, r.NextWindow, now),
			version, printable(dash(requested(o))))
	}
	tw.Flush()
	if removed {
		fmt.Fprintf(w, "\n* not in this config: the worker removes the entry %d h after its last update, unless a replica that has it runs it\n",
			int(contract.StatusPruneAfter.Hours()))
	}
	if len(early) == 0 {
		return
	}
	fmt.Fprintln(w, "\nrequests that failed before any connector was in play:")
	for _, r := range early {
		mark := ""
		if r.Configured != nil && !*r.Configured {
			mark = "  (job not configured)"
		}
		fmt.Fprintf(w, "  %s  %s  %s  [%s]%s\n", r.Updated.Format(time.DateTime), printable(r.Outcome.Job),
			printable(detail(r.Outcome, now)), printable(requested(r.Outcome)), mark)
	}
}

// ago prints a time as a date and how far it is from now ("2026-12-01
// 10:00 (3h ago)", "… (in 5h)"), or "-" when unknown.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := now.Sub(*t)
	rel := "ago"
	if d < 0 {
		d, rel = -d, "in"
	}
	var span string
	switch {
	case d >= 48*time.Hour:
		span = fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		span = fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		span = fmt.Sprintf("%dm", int(d.Minutes()))
	default:
		span = "<1m"
	}
	if rel == "in" {
		span = "in " + span
	} else {
		span += " ago"
	}
	return t.UTC().Format("2006-01-02 15:04") + " (" + span + ")"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
