package inventory

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

func item(kind, id string, expires time.Time, managed bool) jobs.InventoryItem {
	it := jobs.InventoryItem{Tenant: "contoso", Kind: kind, ID: id, Managed: managed}
	if !expires.IsZero() {
		it.Active = &jobs.CertInfo{NotAfter: expires}
	}
	return it
}

func ids(items []jobs.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

// TestScanKeepsUnmanagedSoonestFirst: a scan counts the managed targets
// and keeps the unmanaged ones, soonest expiry first and those without an
// active certificate last.
func TestScanKeepsUnmanagedSoonestFirst(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	inv := jobs.TenantInventory{Tenant: "contoso", Items: []jobs.InventoryItem{
		item(jobs.KindConnector, "late", now.Add(90*24*time.Hour), false),
		item(jobs.KindConnector, "none", time.Time{}, false),
		item(jobs.KindConnector, "managed", now.Add(24*time.Hour), true),
		item(jobs.KindKeySet, "soon", now.Add(3*24*time.Hour), false),
	}}
	sc := newScan(inv, now.Truncate(time.Hour), now, "replica-a")
	if sc.Total != 4 || sc.Managed != 1 || sc.Unmanaged != 3 || sc.By != "replica-a" {
		t.Errorf("scan counts %+v", sc)
	}
	if got, want := ids(sc.Items), []string{"soon", "late", "none"}; !slices.Equal(got, want) {
		t.Errorf("items %v, want %v", got, want)
	}
}

// TestScanKeepsWhatAFailedListKnew: when a kind cannot be listed, the
// unmanaged items of that kind from the scan before stay, so that their
// series and alerts do not vanish; the other kind's are this scan's.
func TestScanKeepsWhatAFailedListKnew(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	prev := newScan(jobs.TenantInventory{Tenant: "contoso", Items: []jobs.InventoryItem{
		item(jobs.KindConnector, "old-conn", now.Add(5*24*time.Hour), false),
		item(jobs.KindKeySet, "old-keys", now.Add(2*24*time.Hour), false),
	}}, now.Add(-time.Hour), now.Add(-time.Hour), "replica-b")
	sc := newScan(jobs.TenantInventory{Tenant: "contoso", Items: []jobs.InventoryItem{
		item(jobs.KindConnector, "new-conn", now.Add(4*24*time.Hour), false),
	}, KeySetsErr: errors.New("403")}, now, now, "replica-a")
	sc.keepFailed(prev)
	if got, want := ids(sc.Items), []string{"old-keys", "new-conn"}; !slices.Equal(got, want) || sc.Unmanaged != 2 || sc.KeySetsError != "403" {
		t.Errorf("scan after a failed key set list: items %v (unmanaged %d, error %q), want %v", got, sc.Unmanaged, sc.KeySetsError, want)
	}
}
