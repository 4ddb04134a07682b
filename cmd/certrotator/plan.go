package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

func cmdPlan(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	asJSON := fs.Bool("json", false, "one JSON object per connector")
	p, selected, code := jobsFromFlags(e, fs, args, path)
	if p == nil {
		return code
	}
	var all []jobs.Decision
	for _, j := range selected {
		all = append(all, p.rotator.Plan(e.ctx, j, jobs.Request{Job: j.Name, Trigger: contract.TriggerManual})...)
	}
	if *asJSON {
		for _, d := range all {
			if printJSON(e, d) != nil {
				return exitFailed
			}
		}
	} else {
		printPlan(e.stdout, all, e.now())
	}
	return planExit(all)
}

// planExit is 3 when every failed plan failed because Vault or Graph could
// not be reached (nothing was decided), else 1 when any failed (a bad
// bundle, a permission, a probe's verdict), as every command does: a
// script retries the one and pages on the other.
func planExit(ds []jobs.Decision) int {
	code := exitOK
	for _, d := range ds {
		if d.Action != jobs.ActionFail {
			continue
		}
		if d.Error == nil || !unreachableCodes[d.Error.Code] {
			return exitFailed
		}
		code = exitUnreachable
	}
	return code
}

// unreachableCodes are the failure codes of a Vault or Graph that did not
// answer in time; a transient class alone is not enough (a probe's
// rejection is transient, and a verdict).
var unreachableCodes = map[string]bool{
	contract.CodeSourceUnavailable: true,
	contract.CodeNetwork:           true,
	contract.CodeTokenUnavailable:  true,
	contract.CodeGraphBudget:       true,
	contract.CodeTimeout:           true,
}

// printPlan writes the decisions as a table an operator reads at a glance.
func printPlan(w io.Writer, ds []jobs.Decision, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCONNECTOR\tACTIVE\tEXPIRES IN\tBUNDLE\tACTION\tREASON\tWINDOW")
	for _, d := range ds {
		active, days, bundleTP := "-", "-", "-"
		if d.Active != nil {
			active = short(d.Active.Thumbprint)
		}
		if d.ActiveDaysLeft != nil {
			days = fmt.Sprintf("%dd", *d.ActiveDaysLeft)
		}
		if d.Bundle != nil {
			bundleTP = short(d.Bundle.Thumbprint)
			if d.Bundle.SourceVersion > 0 {
				bundleTP += fmt.Sprintf(" (v%d)", d.Bundle.SourceVersion)
			}
		}
		reason := d.Reason
		if d.Action == jobs.ActionIssue {
			reason = issueReason(d.Reason)
			if d.Bundle == nil {
				bundleTP = "new"
			} else {
				bundleTP += " → new"
			}
		}
		if d.Error != nil {
			reason = d.Error.Code + ": " + d.Error.Message
		}
		if d.Staged {
			reason += " (staged: notBefore in the future)"
		}
		reason += probeText(d.Probe)
		target := d.Connector
		if d.TargetKind == jobs.KindKeySet {
			// A B2C policy key container, shown by kind and id.
			target = "keyset " + d.Connector
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Job, target, active, days, bundleTP, d.Action, reason,
			windowText(d.WindowOpen, d.NextWindow, now))
	}
	tw.Flush()
}

// probeText is the probe's verdict after a plan's reason, "" without one.
func probeText(p *jobs.ProbeInfo) string {
	switch {
	case p == nil:
		return ""
	case !p.Accepted && p.Error != nil && p.Error.Code == jobs.CodeProbeFailed:
		return fmt.Sprintf("; probe: no verdict from %s (%s)", p.URL, p.Error.Code)
	case !p.Accepted:
		return fmt.Sprintf("; probe: rejected by %s (%s)", p.URL, cmp.Or(p.Answer, jobs.CodeAPIRejectsCertificate))
	case p.Unauthenticated:
		return fmt.Sprintf("; probe: accepted (%s), but the API also accepts calls without a certificate", p.Answer)
	}
	return fmt.Sprintf("; probe: accepted (%s)", p.Answer)
}

// short abbreviates a thumbprint for tables; JSON output keeps it whole.
func short(tp string) string {
	if len(tp) > 12 {
		return tp[:12] + "…"
	}
	return tp
}

// issueReason says in words why a job sourced from Vault PKI would issue a
// new certificate (a jobs.Due… reason), and what follows.
func issueReason(due string) string {
	why := map[string]string{
		jobs.DueMissing:     "no bundle in Vault yet",
		jobs.DueGone:        "the current version is deleted or destroyed",
		jobs.DueUnreadable:  "the current version is no usable bundle",
		jobs.DueRenewWindow: "the bundle is within renew_before or min_validity of its expiry",
	}[due]
	if why == "" {
		why = due
	}
	return "would issue from Vault PKI (" + why + "), write it as a new version, then upload it"
}
