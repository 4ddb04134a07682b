package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// inventorySoon is how close an unmanaged certificate's expiry makes the
// inventory finding a warning: the jobs' first warning threshold.
const inventorySoon = 30 * 24 * time.Hour

// checkInventory lists each tenant as `scan` does and says how many of its
// certificates no job manages and which expires soonest. A list the app
// may not read is a failure for a tenant with inventory: true (the worker's
// scan needs it) and a warning otherwise.
func (d *doctor) checkInventory(cfg *config.Config, off *offline) {
	tenants, _ := scanTenants(cfg, "")
	for _, t := range tenants {
		ctx, cancel := d.ctx()
		inv := jobs.Inventory(ctx, off.graph, t, cfg.Jobs, d.e.now())
		cancel()
		d.report(inventoryFinding(inv, cfg.Tenants[t], d.e.now()))
	}
}

// inventoryFinding judges one tenant's inventory.
func inventoryFinding(inv jobs.TenantInventory, t config.Tenant, now time.Time) finding {
	f := finding{Area: "graph", Check: "tenant " + inv.Tenant + " inventory", Verdict: verdictOK}
	var conns, sets int
	for _, it := range inv.Items {
		if it.Kind == jobs.KindKeySet {
			sets++
		} else {
			conns++
		}
	}
	un := inv.Unmanaged()
	all := 0
	for _, it := range inv.Items {
		if !it.Managed {
			all++
		}
	}
	f.Detail = fmt.Sprintf("%d connectors, %d key containers: %d unmanaged certificates", conns, sets, len(un))
	if len(un) > 0 {
		s := un[0]
		left := s.Active.NotAfter.Sub(now)
		f.Detail += fmt.Sprintf(", soonest %s %s expires %s (%d days)", s.Kind, s.ID, s.Active.NotAfter.UTC().Format("2006-01-02"), daysBetween(now, s.Active.NotAfter))
		if left < inventorySoon {
			f.Verdict = verdictWarn
			f.Fix = fmt.Sprintf("no job rotates it: add it to a job's %s or renew it by hand; `certrotator scan -c FILE --tenant %s` lists them all", bindingKey(s.Kind), inv.Tenant)
		}
	}
	if n := all - len(un); n > 0 {
		f.Detail += fmt.Sprintf(" (%d more unmanaged without an active certificate)", n)
	}
	var problems, fixes []string
	for _, k := range []struct {
		kind string
		err  error
	}{{jobs.KindConnector, inv.ConnectorsErr}, {jobs.KindKeySet, inv.KeySetsErr}} {
		if k.err != nil {
			problems = append(problems, k.kind+"s not listed: "+k.err.Error())
			fixes = append(fixes, listFix(k.kind, t, k.err))
		}
	}
	if len(problems) > 0 {
		f.Verdict = verdictWarn
		if t.Inventory {
			f.Verdict = verdictFail // the worker's scheduled scan needs it
		}
		f.Detail += "; " + strings.Join(problems, "; ")
		if f.Fix != "" {
			fixes = append(fixes, f.Fix)
		}
		f.Fix = strings.Join(fixes, "; ")
	}
	return f
}

// bindingKey is the job key that binds a target of kind.
func bindingKey(kind string) string {
	if kind == jobs.KindKeySet {
		return "keysets"
	}
	return "connectors"
}
