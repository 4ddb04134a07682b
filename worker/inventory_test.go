package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/statusview"
)

const (
	invTenantID = "00000000-0000-4000-8000-0000000000d7"
	invClientID = "11111111-1111-4111-8111-1111111111d7"
	invSecret   = "inventory-test-secret"
	invFreeConn = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000d7"
	invBasic    = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000d8"
	invFreeKeys = "B2C_1A_Forgotten"
)

// inventoryFixture is a tenant in graphsim, listed two per page: the test
// job's conn1 (managed), an unmanaged connector 10 days and an unmanaged
// key container 3.5 days from expiry, a connector with no certificate (3 connectors: 2 pages), and
// an empty container.
type inventoryFixture struct {
	sim   *graphsim.Server
	graph *connector.Client
	start time.Time
}

func newInventoryFixture(t *testing.T) inventoryFixture {
	t.Helper()
	start := time.Now().Truncate(time.Second)
	sim := graphsim.NewTest(t).AddTenant(invTenantID, invClientID, invSecret).
		AddConnector(invTenantID, conn1, "managed", graphsim.Cert{Thumbprint: strings.Repeat("A1", 20), NotBefore: start.Add(-time.Hour), NotAfter: start.Add(90 * 24 * time.Hour)}).
		AddConnector(invTenantID, invFreeConn, "forgotten", graphsim.Cert{Thumbprint: strings.Repeat("B2", 20), NotBefore: start.Add(-time.Hour), NotAfter: start.Add(10 * 24 * time.Hour)}).
		AddConnector(invTenantID, invBasic, "basic").
		AddKeySet(invTenantID, invFreeKeys, graphsim.Key{Kid: "by-hand", NotBefore: start.Add(-time.Hour), NotAfter: start.Add(84 * time.Hour)}).
		AddKeySet(invTenantID, "B2C_1A_Empty").
		Start()
	sim.SetPageSize(2)
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	c, err := connector.New(connector.Config{
		Tenants:   map[string]connector.Tenant{"contoso": {TenantID: invTenantID, ClientID: invClientID, ClientSecret: invSecret, AuthorityURL: sim.URL(), GraphURL: sim.URL()}},
		Transport: transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	return inventoryFixture{sim: sim, graph: c, start: start}
}

// listCalls counts the list pages graphsim answered, both kinds.
func (f inventoryFixture) listCalls() int {
	n := 0
	for _, r := range f.sim.Requests() {
		p, _, _ := strings.Cut(r.Path, "?")
		if r.Method == http.MethodGet && (p == "/v1.0/identity/apiConnectors" || p == "/beta/trustFramework/keySets") {
			n++
		}
	}
	return n
}

// TestInventoryScansOnceAcrossReplicas: two replicas sharing one NATS
// start with inventory on; the tenant's current slot is scanned by one of
// them (two pages of each kind), and both export the unmanaged
// certificates' expiry with managed="false" from the stored scan.
func TestInventoryScansOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	f := newInventoryFixture(t)
	s := runServer(t, "")
	clock := func() time.Time { return f.start }
	var ww []*Worker
	for _, name := range []string{"replica-a", "replica-b"} {
		app := testApp()
		app.Instance = name
		cfg := configFor(t, app, workertest.NewRecorder(nil), connect(t, s))
		cfg.NowFunc, cfg.Inventory, cfg.InventoryTenants = clock, f.graph, []InventoryTenant{{Tenant: "contoso", Every: time.Hour}}
		ww = append(ww, startConfigured(t, cfg))
	}
	workertest.Eventually(t, "one replica scanned", func() bool { return len(ww[0].Inventory())+len(ww[1].Inventory()) > 0 })
	for _, w := range ww {
		w.inventory.Refresh(t.Context(), "contoso") // the other replica reads the stored scan
	}
	if n := f.listCalls(); n != 3 {
		t.Errorf("graphsim answered %d list pages, want 3: one scan (2 pages of 3 connectors, 1 of 2 key sets) across both replicas", n)
	}
	for _, w := range ww {
		scans := w.Inventory()
		if len(scans) != 1 {
			t.Fatalf("%s has %d scans, want 1", w.instance, len(scans))
		}
		sc := scans[0]
		if sc.Total != 5 || sc.Managed != 1 || sc.Unmanaged != 4 || !sc.Slot.Equal(f.start.Truncate(time.Hour)) ||
			len(sc.Items) != 4 || sc.Items[0].ID != invFreeKeys || sc.Items[1].ID != invFreeConn {
			t.Errorf("%s scan = %+v, want 5 targets, 1 managed, the key set expiring first", w.instance, sc)
		}
		metrics := `
# HELP certrotator_certificate_expiry_timestamp_seconds ` + statusview.ExpiryHelp + `
# TYPE certrotator_certificate_expiry_timestamp_seconds gauge
certrotator_certificate_expiry_timestamp_seconds{connector="` + invFreeConn + `",kind="connector",managed="false",tenant="contoso"} ` + strconv.FormatInt(f.start.Add(10*24*time.Hour).Unix(), 10) + `
certrotator_certificate_expiry_timestamp_seconds{connector="` + invFreeKeys + `",kind="keyset",managed="false",tenant="contoso"} ` + strconv.FormatInt(f.start.Add(84*time.Hour).Unix(), 10) + `
`
		if err := testutil.GatherAndCompare(w.registry, strings.NewReader(metrics), statusview.ExpiryMetric); err != nil {
			t.Errorf("%s: %v", w.instance, err)
		}
		// The status page shows them in a section of their own.
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		page := rec.Body.String()
		section := page[max(strings.Index(page, `<section id="inventory">`), 0):]
		for _, want := range []string{`<section id="inventory">`, "tenant contoso", "4 unmanaged of 5",
			`data-inventory="keyset.` + invFreeKeys + `"`, `class="days warn"><div>3 days`, `data-inventory="connector.` + invFreeConn + `"`,
			"forgotten", strings.Repeat("B2", 20), "no active certificate"} {
			if !strings.Contains(section, want) {
				t.Errorf("%s: status page's inventory section lacks %q:\n%s", w.instance, want, section)
			}
		}
	}
}

// TestInventoryWarnsUnmanagedOncePerThreshold: the replicas scan two
// slots three days apart (clock injected) and together publish one
// certrotator.certificate.expiring per unmanaged certificate per threshold
// crossed: 14d and 7d at the first, 7d and 1d at the second.
func TestInventoryWarnsUnmanagedOncePerThreshold(t *testing.T) {
	t.Parallel()
	f := newInventoryFixture(t)
	s := runServer(t, "")
	sink := workertest.Subscribe(t, connect(t, s), "certrotation.result."+contract.InventoryJob+".>")
	var mu sync.Mutex
	now := f.start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var ww []*Worker
	for _, name := range []string{"replica-a", "replica-b"} {
		app := testApp()
		app.Instance = name
		// No tenants: the loop stays off and the test drives the slots.
		cfg := configFor(t, app, workertest.NewRecorder(nil), connect(t, s))
		cfg.NowFunc, cfg.Inventory = clock, f.graph
		ww = append(ww, startConfigured(t, cfg))
	}
	js := testkit.JetStream(t, connect(t, s))
	stored := func() uint64 {
		t.Helper()
		st, err := js.Stream(t.Context(), contract.ResultsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter("certrotation.result."+contract.InventoryJob+".>"))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	scanSlot := func(slot time.Time, want int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		scanned := 0
		for _, w := range ww {
			wg.Go(func() {
				ok, err := w.inventory.RunSlot(t.Context(), "contoso", slot)
				if err != nil {
					t.Errorf("%s: RunSlot: %v", w.instance, err)
				}
				if ok {
					mu.Lock()
					scanned++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if scanned != want {
			t.Errorf("slot %s scanned by %d replicas, want %d", slot, scanned, want)
		}
	}
	expect := func(want map[string]string) {
		t.Helper()
		got := map[string]string{}
		for range want {
			ev, subject := sink.Next(t)
			if ev.Type != "certrotator.certificate.expiring" || ev.Data.Job != contract.InventoryJob || !strings.Contains(ev.Data.Reason, "unmanaged") ||
				subject != "certrotation.result._inventory."+contract.TargetToken(ev.Data) || !strings.HasPrefix(ev.Data.RequestID, "_inventory.contoso.") {
				t.Errorf("warning on %s = %+v (data %+v)", subject, ev, ev.Data)
			}
			got[ev.Data.Connector] = ev.Data.Threshold
		}
		for id, th := range want {
			if got[id] != th {
				t.Errorf("warnings %v, want %v", got, want)
				break
			}
		}
	}

	scanSlot(f.start.Truncate(time.Hour), 1)
	expect(map[string]string{invFreeConn: "14d", invFreeKeys: "7d"})
	scanSlot(f.start.Truncate(time.Hour), 0) // the same slot again: stored, so no scan at all
	mu.Lock()
	now = f.start.Add(3 * 24 * time.Hour)
	mu.Unlock()
	scanSlot(now.Truncate(time.Hour), 1)
	expect(map[string]string{invFreeConn: "7d", invFreeKeys: "1d"})
	// Nothing else: the 14d of the connector and the 7d of the key set
	// were announced already, and each scan published before returning.
	if n := stored(); n != 4 {
		t.Errorf("the results stream holds %d inventory warnings, want 4", n)
	}

	// The app loses the key set permission: the next scan lists the
	// connectors only, says why, and keeps the container from the scan
	// before, so that its series and alert do not vanish.
	f.sim.DenyKeySets(invTenantID, invClientID, true)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	scanSlot(now.Truncate(time.Hour), 1)
	ww[0].inventory.Refresh(t.Context(), "contoso")
	sc := ww[0].Inventory()[0]
	if !strings.Contains(sc.KeySetsError, "403") && !strings.Contains(sc.KeySetsError, "Authorization_RequestDenied") || sc.ConnectorsError != "" {
		t.Errorf("scan errors: connectors %q, key sets %q; want the key sets' 403", sc.ConnectorsError, sc.KeySetsError)
	}
	if !slices.ContainsFunc(sc.Items, func(it jobs.InventoryItem) bool { return it.ID == invFreeKeys }) || sc.Unmanaged != 4 {
		t.Errorf("scan after a denied list = %+v, want the key set kept from the scan before", sc)
	}
}

// TestInventoryRunOnceFollowsSlots: the loop's step scans a tenant when its
// slot is due, only refreshes before the next one, and scans again when
// the clock reaches it; it sleeps until the next slot, at most a minute.
func TestInventoryRunOnceFollowsSlots(t *testing.T) {
	t.Parallel()
	f := newInventoryFixture(t)
	s := runServer(t, "")
	var mu sync.Mutex
	now := f.start.Truncate(time.Hour).Add(59*time.Minute + 30*time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// Only the connection service runs: the loop stays off and the test
	// takes its steps; the first is at the current slot.
	cfg := configFor(t, testApp(), workertest.NewRecorder(nil), connect(t, s))
	cfg.NowFunc, cfg.Inventory, cfg.InventoryTenants = clock, f.graph, []InventoryTenant{{Tenant: "contoso", Every: time.Hour}}
	w := newConfigured(t, cfg)
	if err := w.conn.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.conn.Stop(context.Background()) })
	inv := w.inventory
	scans := func() []time.Time {
		var out []time.Time
		for _, sc := range w.Inventory() {
			out = append(out, sc.Slot)
		}
		return out
	}
	inv.RunOnce(t.Context())
	if got := scans(); len(got) != 1 || !got[0].Equal(f.start.Truncate(time.Hour)) {
		t.Fatalf("after the first step: scans %v, want the current slot", got)
	}
	if d := inv.Wake(); d != 30*time.Second {
		t.Errorf("wake = %s, want 30s (the next slot)", d)
	}
	calls := f.listCalls()
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	inv.RunOnce(t.Context()) // before the next slot: no scan
	if n := f.listCalls(); n != calls {
		t.Errorf("a step before the slot listed %d pages", n-calls)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	inv.RunOnce(t.Context())
	if got := scans(); len(got) != 1 || !got[0].Equal(f.start.Truncate(time.Hour).Add(time.Hour)) {
		t.Errorf("at the next slot: scans %v, want it scanned", got)
	}
	if d := inv.Wake(); d != time.Minute {
		t.Errorf("wake = %s, want a minute (the refresh)", d)
	}
}
