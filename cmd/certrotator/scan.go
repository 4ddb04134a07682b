package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/jobs"
)

// The read permissions enough to scan a tenant: the inventory only lists.
const (
	connectorsReadPermission = "APIConnectors.Read.All"
	keySetsReadPermission    = "TrustFrameworkKeySet.Read.All"
)

// scanTimeoutDefault bounds the scan of one tenant: a list call per page
// of each kind, paced under the tenant's rate limit.
const scanTimeoutDefault = 2 * time.Minute

// scanLine is one line of `scan --json`: an inventory item, or a kind of a
// tenant that could not be listed (Error and Fix set, no id).
type scanLine struct {
	jobs.InventoryItem
	Error string `json:"error,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

func cmdScan(e *env, fs *flag.FlagSet, args []string) int {
	path := configFlag(e, fs)
	tenant := fs.String("tenant", "", "scan this tenant only (default: every tenant of the config)")
	asJSON := fs.Bool("json", false, "one JSON object per connector or key container")
	var timeout time.Duration
	durationVar(fs, &timeout, "timeout", scanTimeoutDefault, "bound on the scan of each tenant")
	cfg, _, code := parseConfig(e, fs, args, path)
	if cfg == nil {
		return code
	}
	tenants, err := scanTenants(cfg, *tenant)
	if err != nil {
		return usageError(e, "%v", err)
	}
	off, err := assemble(cfg, newLogger(cfg.Log, io.Discard))
	if err != nil {
		return usageError(e, "%v", err)
	}
	var invs []jobs.TenantInventory
	for _, t := range tenants {
		ctx, cancel := context.WithTimeout(e.ctx, timeout)
		invs = append(invs, jobs.Inventory(ctx, off.graph, t, cfg.Jobs, e.now()))
		cancel()
	}
	if *asJSON {
		if printScanJSON(e, cfg, invs) != nil {
			return exitFailed
		}
	} else {
		printScan(e.stdout, invs, e.now())
		printScanErrors(e.stderr, cfg, invs)
	}
	return scanExit(invs)
}

// scanTenants is the tenant keys to scan, sorted: the one named, or all.
func scanTenants(cfg *config.Config, only string) ([]string, error) {
	var all []string
	for k := range cfg.Tenants {
		all = append(all, k)
	}
	slices.Sort(all)
	if only == "" {
		if len(all) == 0 {
			return nil, errors.New("the config has no tenants to scan: add one under tenants (docs/config.md)")
		}
		return all, nil
	}
	if _, ok := cfg.Tenants[only]; !ok {
		msg := fmt.Sprintf("--tenant %s: no such tenant in the config; its tenants are %q", only, all)
		if s := config.Suggest(only, all); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		}
		return nil, errors.New(msg)
	}
	return []string{only}, nil
}

// printScan writes the inventory as a table, soonest expiry first within
// each tenant.
func printScan(w io.Writer, invs []jobs.TenantInventory, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tKIND\tID\tNAME\tACTIVE\tSUBJECT\tEXPIRES\tIN\tMANAGED BY")
	for _, inv := range invs {
		items := slices.Clone(inv.Items)
		slices.SortStableFunc(items, func(a, b jobs.InventoryItem) int { return expiryOf(a).Compare(expiryOf(b)) })
		for _, it := range items {
			active, subject, expires, in := "-", "-", "-", "-"
			if a := it.Active; a != nil {
				active = short(orDefault(a.Thumbprint, a.Kid))
				subject = orDefault(a.Subject, "-")
				if !a.NotAfter.IsZero() {
					expires = a.NotAfter.UTC().Format("2006-01-02")
					in = fmt.Sprintf("%dd", daysBetween(now, a.NotAfter))
				} else {
					expires = "never"
				}
			} else if it.AuthType != "" && it.AuthType != "clientCertificate" {
				active = it.AuthType
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Tenant, it.Kind, it.ID, orDefault(it.Name, "-"),
				active, subject, expires, in, orDefault(it.Job, "unmanaged"))
		}
	}
	tw.Flush()
}

// expiryOf sorts items without an expiry last.
func expiryOf(it jobs.InventoryItem) time.Time {
	if it.Active == nil || it.Active.NotAfter.IsZero() {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return it.Active.NotAfter
}

// daysBetween is the whole days from now to at, rounded down.
func daysBetween(now, at time.Time) int {
	d := at.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// printScanErrors says, per tenant and kind, why a list failed and what
// fixes it.
func printScanErrors(w io.Writer, cfg *config.Config, invs []jobs.TenantInventory) {
	for _, l := range scanErrors(cfg, invs) {
		fmt.Fprintf(w, "certrotator: tenant %s: %s\n  fix: %s\n", l.Tenant, l.Error, l.Fix)
	}
}

// scanErrors is a line per kind of a tenant that could not be listed.
func scanErrors(cfg *config.Config, invs []jobs.TenantInventory) []scanLine {
	var out []scanLine
	for _, inv := range invs {
		t := cfg.Tenants[inv.Tenant]
		for _, k := range []struct {
			kind string
			err  error
		}{{jobs.KindConnector, inv.ConnectorsErr}, {jobs.KindKeySet, inv.KeySetsErr}} {
			if k.err == nil {
				continue
			}
			out = append(out, scanLine{InventoryItem: jobs.InventoryItem{Tenant: inv.Tenant, Kind: k.kind},
				Error: k.err.Error(), Fix: listFix(k.kind, t, k.err)})
		}
	}
	return out
}

// printScanJSON writes one object per item, then one per failed list.
func printScanJSON(e *env, cfg *config.Config, invs []jobs.TenantInventory) error {
	for _, inv := range invs {
		for _, it := range inv.Items {
			if err := printJSON(e, scanLine{InventoryItem: it}); err != nil {
				return err
			}
		}
	}
	for _, l := range scanErrors(cfg, invs) {
		if err := printJSON(e, l); err != nil {
			return err
		}
	}
	return nil
}

// scanExit is 0 when every list succeeded, 3 when a list failed for a
// reason that may pass (Graph or Entra unreachable, throttled, timed out:
// a transient failure), else 1 (a permission, a bad answer).
func scanExit(invs []jobs.TenantInventory) int {
	code := exitOK
	for _, inv := range invs {
		for _, err := range []error{inv.ConnectorsErr, inv.KeySetsErr} {
			switch {
			case err == nil:
			case unreachable(err) || jobs.AsFailure(err).Class == jobs.ClassTransient:
				if code == exitOK {
					code = exitUnreachable
				}
			default:
				code = exitFailed // a failure retrying will not fix wins
			}
		}
	}
	return code
}

// listFix says what makes a failed list of kind work: the read permission
// for a 403, reaching Graph otherwise.
func listFix(kind string, t config.Tenant, err error) string {
	var ge *connector.GraphError
	if errors.Is(err, connector.ErrDenied) || errors.As(err, &ge) && ge.Status == http.StatusForbidden {
		perm, what := connectorsReadPermission, "API connectors"
		if kind == jobs.KindKeySet {
			perm, what = keySetsReadPermission, "custom-policy key containers"
		}
		return fmt.Sprintf("grant app %s the Microsoft Graph application permission %s (or its ReadWrite form) and admin consent in tenant %s to scan its %s (docs/onboarding.md)",
			t.ClientID, perm, t.TenantID, what)
	}
	return "check that this host reaches Microsoft Graph (" + orDefault(t.GraphURL, "graph.microsoft.com") + ") and scan again"
}
