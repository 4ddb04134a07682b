package worker

import (
	"cmp"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// inventorySection is one tenant's scan on the status page
// (templates/inventory.html): the certificates no job manages.
type inventorySection struct {
	Tenant, Scanned, By       string
	Total, Managed, Unmanaged int
	Rows                      []inventoryRow
	Errors                    []string
}

// inventoryRow is one unmanaged target.
type inventoryRow struct {
	Kind, ID, Name      string
	Thumbprint, Subject string
	DaysLeft, DaysClass string
	NotAfter            string
}

// inventorySections are the latest scans, days classed by the thresholds
// at which the inventory warns.
func (w *Worker) inventorySections(now time.Time) []inventorySection {
	var out []inventorySection
	for _, sc := range w.Inventory() {
		s := inventorySection{Tenant: sc.Tenant, Scanned: sc.Scanned.UTC().Format(timeLayout), By: sc.By,
			Total: sc.Total, Managed: sc.Managed, Unmanaged: sc.Unmanaged}
		for _, e := range []string{sc.ConnectorsError, sc.KeySetsError} {
			if e != "" {
				s.Errors = append(s.Errors, e)
			}
		}
		for _, it := range sc.Items {
			r := inventoryRow{Kind: it.Kind, ID: it.ID, Name: it.Name, DaysLeft: "no active certificate", DaysClass: "warn"}
			if a := it.Active; a != nil {
				r.Thumbprint, r.Subject = cmp.Or(a.Thumbprint, a.Kid), a.Subject
				r.DaysLeft, r.DaysClass = "never expires", "ok"
				if !a.NotAfter.IsZero() {
					r.DaysLeft, r.DaysClass = daysLeft(a.NotAfter.Sub(now), jobs.WarnBeforeDefault())
					r.NotAfter = a.NotAfter.UTC().Format(timeLayout)
				}
			}
			s.Rows = append(s.Rows, r)
		}
		out = append(out, s)
	}
	return out
}
