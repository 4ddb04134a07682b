package statuspage

import (
	"cmp"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// InventorySource is a Source that also has the latest inventory scan of
// each tenant with inventory: true. When the page's Source implements it,
// the page shows the certificates no job manages in a section of their
// own (templates/inventory.html); otherwise it shows none.
type InventorySource interface {
	Inventory() []Inventory
}

// Inventory is one tenant's latest scan as the page shows it.
type Inventory struct {
	Tenant  string
	Scanned time.Time
	By      string // the instance that scanned
	// Total, Managed and Unmanaged count the targets the scan listed.
	Total, Managed, Unmanaged int
	// Items are the unmanaged targets, soonest expiry first.
	Items []jobs.InventoryItem
	// Errors say why a kind was not listed.
	Errors []string
	// WarnBefore are the thresholds at which the worker warns: they class
	// the days left as the jobs' certificates are classed.
	WarnBefore []time.Duration
}

// inventorySection is one tenant's scan on the page.
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

// inventorySections are the source's scans, days classed by the
// thresholds at which the worker warns; none when the source has no
// inventory.
func (pg *page) inventorySections(now time.Time) []inventorySection {
	src, ok := pg.src.(InventorySource)
	if !ok {
		return nil
	}
	var out []inventorySection
	for _, sc := range src.Inventory() {
		s := inventorySection{Tenant: sc.Tenant, Scanned: sc.Scanned.UTC().Format(timeLayout), By: sc.By,
			Total: sc.Total, Managed: sc.Managed, Unmanaged: sc.Unmanaged, Errors: sc.Errors}
		for _, it := range sc.Items {
			s.Rows = append(s.Rows, inventoryRowOf(it, sc.WarnBefore, now))
		}
		out = append(out, s)
	}
	return out
}

func inventoryRowOf(it jobs.InventoryItem, warnBefore []time.Duration, now time.Time) inventoryRow {
	r := inventoryRow{Kind: it.Kind, ID: it.ID, Name: it.Name, DaysLeft: "no active certificate", DaysClass: "warn"}
	a := it.Active
	if a == nil {
		return r
	}
	r.Thumbprint, r.Subject = cmp.Or(a.Thumbprint, a.Kid), a.Subject
	r.DaysLeft, r.DaysClass = "never expires", "ok"
	if !a.NotAfter.IsZero() {
		r.DaysLeft, r.DaysClass = daysLeft(a.NotAfter.Sub(now), warnBefore)
		r.NotAfter = a.NotAfter.UTC().Format(timeLayout)
	}
	return r
}
