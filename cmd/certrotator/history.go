package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
)

// historyRow is one outcome of a job joined with the Vault KV version it
// rolled out: a line of `certrotator history`, and its JSON form.
type historyRow struct {
	Time       time.Time `json:"time"`
	Connector  string    `json:"connector"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"` // skip or succeed reason, or the error code
	Error      string    `json:"error,omitempty"`  // the error message of a failed outcome
	Thumbprint string    `json:"thumbprint,omitempty"`
	Version    int       `json:"version,omitempty"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	Trigger    string    `json:"trigger"`
	RequestID  string    `json:"request_id"`
	// What Vault says of Version now: its creation, whether it is still
	// there (live, deleted, destroyed, or gone once past max_versions), and
	// for versions certrotator issued their serial and issuer.
	VersionCreated time.Time `json:"version_created,omitzero"`
	VersionState   string    `json:"version_state,omitempty"`
	Serial         string    `json:"serial,omitempty"`
	Issuer         string    `json:"issuer,omitempty"`
	// RolledBackFrom is the version whose data `certrotator rollback` wrote
	// as Version, and RolledBackBy who asked; zero for other versions.
	RolledBackFrom int    `json:"rolled_back_from,omitempty"`
	RolledBackBy   string `json:"rolled_back_by,omitempty"`
}

func cmdHistory(e *env, fs *flag.FlagSet, args []string) int {
	path := fs.String("c", "", "config file")
	only := fs.String("connector", "", "show only this connector's outcomes")
	asJSON := fs.Bool("json", false, "one JSON object per outcome")
	cfg, job, code := parseJob(e, fs, args, path)
	if cfg == nil {
		return code
	}
	c, err := dialConfig(e, cfg)
	if err != nil {
		return failure(e, err) // exit 3 when NATS cannot be reached
	}
	defer c.Close()
	events, err := c.History(e.ctx, job.Name)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
		return exitFailed
	}
	// The outcomes are the history; Vault's metadata adds to it. Without
	// Vault the outcomes are still worth printing.
	h, err := versionsOf(e.ctx, sourceConfig(cfg, slog.New(slog.DiscardHandler)), job.Source)
	if err != nil {
		fmt.Fprintf(e.stderr, "certrotator: %v (printing outcomes without Vault's versions)\n", err)
	}
	rows := historyRows(events, h, *only, time.Now())
	if *asJSON {
		for _, r := range rows {
			if printJSON(e, r) != nil {
				return exitFailed
			}
		}
		return exitOK
	}
	printHistory(e.stdout, rows)
	return exitOK
}

// versionsOf reads the metadata of a job's KV path with a client of its own.
func versionsOf(ctx context.Context, vc vaultsrc.Config, ref jobs.SourceRef) (jobs.History, error) {
	return withVault(ctx, vc, func(src *vaultsrc.Client) (jobs.History, error) {
		return src.Versions(ctx, ref)
	})
}

// withVault runs one call with a Vault client of its own, opened for it
// and stopped after: history and rollback talk to Vault once per command.
func withVault[T any](ctx context.Context, vc vaultsrc.Config, call func(*vaultsrc.Client) (T, error)) (T, error) {
	src, err := vaultsrc.New(ctx, vc)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("connecting to vault %s: %w", vc.Address, err)
	}
	defer func() { _ = src.Stop(context.WithoutCancel(ctx)) }()
	return call(src)
}

// historyRows joins events (newest first) with h, keeping only connector's
// when it is not empty.
func historyRows(events []contract.Event, h jobs.History, connector string, now time.Time) []historyRow {
	var rows []historyRow
	for _, ev := range events {
		o := ev.Data
		if connector != "" && !strings.EqualFold(o.Connector, connector) {
			continue
		}
		r := historyRow{
			Time: ev.Time, Connector: o.Connector, Outcome: o.Status, Reason: o.Reason,
			Trigger: o.Trigger, RequestID: o.RequestID,
		}
		if o.Error != nil {
			r.Reason, r.Error = o.Error.Code, o.Error.Message
		}
		if ci := o.Certificate; ci != nil {
			r.Thumbprint, r.Version, r.NotAfter = ci.Thumbprint, ci.SourceVersion, ci.NotAfter
		}
		if r.Version > 0 {
			r.VersionState = "gone"
			if v, ok := h.Version(r.Version); ok {
				r.VersionCreated, r.Serial, r.Issuer = v.Created, v.Serial, v.Issuer
				r.RolledBackFrom, r.RolledBackBy = v.RolledBackFrom, v.RolledBackBy
				r.NotAfter = cmp.Or(r.NotAfter, v.NotAfter)
				r.VersionState = versionState(v, now)
			}
			if h.Current == 0 && len(h.Versions) == 0 {
				r.VersionState = "" // Vault was not read
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// versionState says whether a KV version can still be rolled out.
func versionState(v jobs.VersionInfo, now time.Time) string {
	switch {
	case v.Destroyed:
		return "destroyed"
	case !v.Live(now):
		return "deleted"
	default:
		return "live"
	}
}

// printHistory writes the rows as a table; the trigger column says who or
// what asked: the trigger, then the request id (cron-…, vault-…, manual-…).
func printHistory(w io.Writer, rows []historyRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCONNECTOR\tOUTCOME\tTHUMBPRINT\tVERSION\tNOT AFTER\tTRIGGER")
	for _, r := range rows {
		outcome := r.Outcome
		if r.Reason != "" {
			outcome += " (" + r.Reason + ")"
		}
		tp, version, notAfter := "-", "-", "-"
		if r.Thumbprint != "" {
			tp = short(r.Thumbprint)
		}
		if r.Version > 0 {
			version = strconv.Itoa(r.Version)
			if r.RolledBackFrom > 0 {
				version += " (copy of " + strconv.Itoa(r.RolledBackFrom) + ")"
			}
			if r.VersionState != "" && r.VersionState != "live" {
				version += " (" + r.VersionState + ")"
			}
		}
		if !r.NotAfter.IsZero() {
			notAfter = r.NotAfter.UTC().Format(time.DateTime)
		}
		conn := cmp.Or(r.Connector, "-")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s %s\n", r.Time.UTC().Format(time.DateTime), printable(conn), printable(outcome), tp, version,
			notAfter, printable(r.Trigger), printable(r.RequestID))
	}
	tw.Flush()
}
