package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// invSource is a memSource with inventory scans.
type invSource struct {
	*memSource
	scans []Inventory
}

func (s invSource) Inventory() []Inventory { return s.scans }

// TestInventoryPageSection: a source with inventory gets a section of its
// own listing each tenant's unmanaged certificates, days classed by the
// worker's thresholds, and why a kind was not listed; a source without
// inventory gets no section.
func TestInventoryPageSection(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	src := invSource{memSource: newMemSource(), scans: []Inventory{{
		Tenant: "contoso", Scanned: now.Add(-time.Minute), By: "replica-b", Total: 5, Managed: 2, Unmanaged: 3,
		WarnBefore: jobs.WarnBeforeDefault(), Errors: []string{"listing key sets: 403 Authorization_RequestDenied"},
		Items: []jobs.InventoryItem{
			{Tenant: "contoso", Kind: jobs.KindKeySet, ID: "B2C_1A_Forgotten",
				Active: &jobs.CertInfo{Kid: "by-hand", Subject: "CN=old.contoso.example", NotAfter: now.Add(3 * day)}},
			{Tenant: "contoso", Kind: jobs.KindConnector, ID: workertest.Conn2, Name: "forgotten api",
				Active: &jobs.CertInfo{Thumbprint: workertest.Thumbprint, NotAfter: now.Add(100 * day)}},
			{Tenant: "contoso", Kind: jobs.KindConnector, ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000009", AuthType: "basic"},
		},
	}}}
	render := func(src Source) string {
		var b strings.Builder
		if err := pageTemplates.ExecuteTemplate(&b, "status", newTestPage(src).buildStatusPage(nil, now)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	page := render(src)
	section := page[max(strings.Index(page, `<section id="inventory">`), 0):]
	for _, want := range []string{`<section id="inventory">`, "Unmanaged certificates", "tenant contoso", "3 unmanaged of 5", "replica-b",
		"403 Authorization_RequestDenied", `data-inventory="keyset.B2C_1A_Forgotten"`, `class="days warn"><div>3 days`, "by-hand",
		"CN=old.contoso.example", "forgotten api", `class="days ok"><div>100 days`, workertest.Thumbprint, "no active certificate"} {
		if !strings.Contains(section, want) {
			t.Errorf("inventory section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(render(newMemSource()), `id="inventory"`) {
		t.Error("a source without inventory got an inventory section")
	}
}
