package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// activeCert is the certificate the connector holds after the outcome, as
// far as the outcome tells: the uploaded bundle after a success, the bundle
// when it was already present or for an expiry warning, else the one that
// was active before the run (nil when the run never read it).
func activeCert(o jobs.Outcome) *jobs.CertInfo {
	switch {
	case o.Status == contract.StatusSucceeded && !o.Staged, o.Status == contract.StatusExpiring,
		o.Status == contract.StatusSkipped && o.Reason == contract.ReasonAlreadyPresent:
		if o.Certificate != nil {
			return o.Certificate
		}
	}
	return o.Previous
}

// daysLeft is how many whole days remain until notAfter; negative once
// expired.
func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

// detail says in a few words what an outcome did, for one line of output:
// the reason or error, the active certificate and its days left, the
// bundle's version.
func detail(o jobs.Outcome, now time.Time) string {
	var parts []string
	switch {
	case o.Error != nil:
		msg := o.Error.Code
		if o.Error.Message != "" {
			msg += ": " + o.Error.Message
		}
		if !o.Final {
			msg += fmt.Sprintf(" (attempt %d, will retry)", o.Attempt)
		}
		parts = append(parts, msg)
	case o.Reason != "":
		parts = append(parts, o.Reason)
	case o.Staged:
		parts = append(parts, "staged")
	}
	if a := activeCert(o); a != nil && a.Thumbprint != "" {
		s := "thumbprint " + short(a.Thumbprint)
		if a.Kid != "" { // a key set's key: the name the portal shows
			s += " (kid " + a.Kid + ")"
		}
		if !a.NotAfter.IsZero() {
			s += fmt.Sprintf(", %d days left", daysLeft(a.NotAfter, now))
		}
		parts = append(parts, s)
	}
	if o.Status == contract.StatusExpiring && o.Threshold != "" {
		parts = append(parts, "threshold "+o.Threshold)
	}
	if o.Certificate != nil && o.Certificate.SourceVersion > 0 {
		parts = append(parts, fmt.Sprintf("version %d", o.Certificate.SourceVersion))
	}
	if o.NextWindow != nil {
		parts = append(parts, "next window "+ago(o.NextWindow, now))
	}
	return strings.Join(parts, ", ")
}

// windowText is the window column of plan and status: "open" inside a
// change window, else the next window's start and how far off it is, "-"
// for a job without windows.
func windowText(open bool, next *time.Time, now time.Time) string {
	if open {
		return "open"
	}
	return ago(next, now)
}

// nextWindow is status' next change window of the outcome's job: from the
// config when there is one (with whether a window is open now), else the
// outside_window skip's own next_window while it is still ahead.
func nextWindow(o jobs.Outcome, cfg *config.Config, now time.Time) (*time.Time, *bool) {
	if cfg != nil {
		j, ok := cfg.Job(o.Job)
		if !ok || len(j.Windows) == 0 {
			return nil, nil
		}
		st := j.WindowAt(now)
		open := st.Open
		if st.Next.IsZero() {
			return nil, &open
		}
		next := st.Next.UTC()
		return &next, &open
	}
	if o.NextWindow != nil && o.NextWindow.After(now) {
		next := o.NextWindow.UTC()
		return &next, nil
	}
	return nil, nil
}

// requested says what asked for the run, who and why: "manual by
// alice@host: rollback".
func requested(o jobs.Outcome) string {
	s := o.Trigger
	if o.RequestedBy != "" {
		s += " by " + o.RequestedBy
	}
	if o.RequestReason != "" {
		s += ": " + o.RequestReason
	}
	return s
}

// where names the target of an outcome (a key set as keyset-<id>), or says
// that the request failed before any target was in play.
func where(o jobs.Outcome) string {
	return o.Job + "/" + contract.TargetToken(o)
}

// eventLine is `events`' line for one event: time, outcome, connector,
// detail and who asked, with control characters escaped.
func eventLine(ev contract.Event, now time.Time) string {
	o := ev.Data
	line := fmt.Sprintf("%s  %-9s  %s", ev.Time.UTC().Format("2006-01-02 15:04:05Z"), o.Status, where(o))
	if d := detail(o, now); d != "" {
		line += "  " + d
	}
	if r := requested(o); r != "" {
		line += "  [" + r + "]"
	}
	return printable(line) // a publisher's fields, escaped for the terminal
}

// tally counts a run's final outcomes for rotate --wait's last line.
type tally struct {
	succeeded, skipped, failed int
}

func (t *tally) add(o jobs.Outcome) {
	if !o.Final {
		return
	}
	switch o.Status {
	case contract.StatusSucceeded:
		t.succeeded++
	case contract.StatusSkipped:
		t.skipped++
	case contract.StatusFailed:
		t.failed++
	}
}

// line is the last line: "2 succeeded, 1 skipped, 0 failed in 1.2s".
func (t tally) line(elapsed time.Duration) string {
	s := fmt.Sprintf("%d succeeded, ", t.succeeded)
	if t.skipped > 0 {
		s += fmt.Sprintf("%d skipped, ", t.skipped)
	}
	round := 100 * time.Millisecond
	if elapsed < time.Second {
		round = time.Millisecond
	}
	return s + fmt.Sprintf("%d failed in %s", t.failed, elapsed.Round(round))
}
