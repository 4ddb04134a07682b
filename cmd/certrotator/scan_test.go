package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

const (
	scanTenantID = "00000000-0000-4000-8000-0000000000f1"
	scanClientID = "11111111-1111-4111-8111-1111111111f1"
	scanSecret   = "scan-test-client-secret"
	scanManaged  = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000f1"
	scanFree     = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000f2"
	scanBasic    = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000f3"
	scanSoon     = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000f4"
)

// scanFixture is an emulated tenant of its own, listed two per page so
// that a scan follows nextLink for both kinds: a managed and two unmanaged
// connectors with certificates (one 5 days from expiry), one without, a
// managed and an unmanaged key container.
type scanFixture struct {
	sim  *graphsim.Server
	path string
}

func newScanFixture(t *testing.T) scanFixture {
	t.Helper()
	now := time.Now()
	tp := func(b byte) string { return strings.Repeat(fmt.Sprintf("%02X", b), 20) }
	sim := graphsim.NewTest(t).AddTenant(scanTenantID, scanClientID, scanSecret).
		AddConnector(scanTenantID, scanManaged, "managed api", graphsim.Cert{Thumbprint: tp(0xA1), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour)}).
		AddConnector(scanTenantID, scanFree, "forgotten api", graphsim.Cert{Thumbprint: tp(0xB2), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(40 * 24 * time.Hour)}).
		AddConnector(scanTenantID, scanBasic, "basic api").
		AddConnector(scanTenantID, scanSoon, "expiring api", graphsim.Cert{Thumbprint: tp(0xC3), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5*24*time.Hour + time.Hour)}).
		AddKeySet(scanTenantID, "B2C_1A_Managed", graphsim.Key{Kid: "m1", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(200 * 24 * time.Hour)}).
		AddKeySet(scanTenantID, "B2C_1A_Forgotten", graphsim.Key{Kid: "f1", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(20 * 24 * time.Hour)}).
		AddKeySet(scanTenantID, "B2C_1A_Empty").
		Start()
	sim.SetPageSize(2)
	f := scanFixture{sim: sim}
	f.path = f.writeConfig(t, t.TempDir(), `vault: {address: "http://127.0.0.1:1", auth: {method: token, token: t}}`+"\n", "")
	return f
}

// writeConfig writes a config to dir and returns its path: head (the
// instance and Vault), the contoso tenant on the fixture's emulator with
// tenantExtra's lines, and a job for the managed connector and key set.
func (f scanFixture) writeConfig(t *testing.T, dir, head, tenantExtra string) string {
	t.Helper()
	ca := testkit.WriteFile(t, dir, "ca.pem", string(f.sim.CACertPEM()))
	return testkit.WriteFile(t, dir, "config.yaml", head+fmt.Sprintf(`tenants:
  contoso:
    tenant_id: %s
    client_id: %s
    client_secret: %s
    authority_url: %s
    graph_url: %s
    ca_file: %s
%sjobs:
  - name: managed-job
    source: {path: b2c/managed}
    connectors: [{tenant: contoso, id: %s}]
    keysets: [{tenant: contoso, id: B2C_1A_managed}]
http: {listen: "off"}
`, scanTenantID, scanClientID, scanSecret, f.sim.URL(), f.sim.URL(), ca, tenantExtra, scanManaged))
}

// scanJSON runs scan --json and decodes its lines.
func scanJSON(t *testing.T, args ...string) (int, []scanLine, string) {
	t.Helper()
	return runJSONLines[scanLine](t, append([]string{"scan", "--json"}, args...)...)
}

func TestScanListsManagedAndUnmanaged(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	code, lines, errOut := scanJSON(t, "-c", f.path)
	if code != exitOK || errOut != "" {
		t.Fatalf("scan: exit %d, stderr %q", code, errOut)
	}
	got := map[string]scanLine{}
	for _, l := range lines {
		got[l.Kind+" "+l.ID] = l
	}
	if len(lines) != 7 {
		t.Errorf("scan listed %d targets, want 4 connectors and 3 key containers across pages of 2: %+v", len(lines), lines)
	}
	for _, want := range []struct {
		key, job string
		days     int // -1: no active certificate
	}{
		{"connector " + scanManaged, "managed-job", 89},
		{"connector " + scanFree, "", 39},
		{"connector " + scanBasic, "", -1},
		{"connector " + scanSoon, "", 5},
		{"keyset B2C_1A_Managed", "managed-job", 199},
		{"keyset B2C_1A_Forgotten", "", 19},
		{"keyset B2C_1A_Empty", "", -1},
	} {
		l, ok := got[want.key]
		switch {
		case !ok:
			t.Errorf("%s missing from the scan", want.key)
		case l.Job != want.job || l.Managed != (want.job != ""):
			t.Errorf("%s: job %q managed %v, want %q", want.key, l.Job, l.Managed, want.job)
		case want.days < 0 && l.Active != nil:
			t.Errorf("%s: active %+v, want none", want.key, l.Active)
		case want.days >= 0 && (l.Active == nil || daysBetween(time.Now(), l.Active.NotAfter) != want.days):
			t.Errorf("%s: active %+v, want %d days left", want.key, l.Active, want.days)
		}
	}
}

func TestScanTable(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	code, out, errOut := runCLI(t, nil, "scan", "-c", f.path, "--tenant", "contoso")
	if code != exitOK || errOut != "" {
		t.Fatalf("scan: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[0], "TENANT") {
		t.Fatalf("want a header and 7 rows:\n%s", out)
	}
	// Soonest expiry first: the connector 5 days out, unmanaged.
	if first := lines[1]; !strings.Contains(first, scanSoon) || !strings.Contains(first, "5d") || !strings.HasSuffix(first, "unmanaged") {
		t.Errorf("first row = %q, want %s, 5d, unmanaged", first, scanSoon)
	}
	if !strings.Contains(out, "managed-job") || !strings.Contains(out, "B2C_1A_Forgotten") {
		t.Errorf("table lacks the managing job or a container:\n%s", out)
	}
}

// A tenant whose app may not read key containers is still scanned for its
// connectors; the scan exits 1 and names the read permission.
func TestScanKeySetsDenied(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	f.sim.DenyKeySets(scanTenantID, scanClientID, true)
	code, lines, _ := scanJSON(t, "-c", f.path)
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	var conns int
	var denied *scanLine
	for i, l := range lines {
		switch {
		case l.Error != "":
			denied = &lines[i]
		case l.Kind == "connector":
			conns++
		}
	}
	if conns != 4 || denied == nil || denied.Kind != "keyset" || !strings.Contains(denied.Fix, keySetsReadPermission) || !strings.Contains(denied.Fix, scanClientID) {
		t.Errorf("connectors %d, denied line %+v", conns, denied)
	}
	_, _, errOut := runCLI(t, nil, "scan", "-c", f.path)
	if !strings.Contains(errOut, "fix: grant app "+scanClientID) {
		t.Errorf("table mode stderr lacks the fix: %q", errOut)
	}
}

func TestScanUsage(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	code, out, errOut := runCLI(t, nil, "scan", "-c", f.path, "--tenant", "contosso")
	if code != exitUsage || out != "" || !strings.Contains(errOut, `did you mean "contoso"?`) {
		t.Errorf("unknown tenant: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "scan", "-c", f.path, "contoso"); code != exitUsage || !strings.Contains(errOut, "--tenant") {
		t.Errorf("positional tenant: exit %d, stderr %q", code, errOut)
	}
}

// TestScanDoctorCountsUnmanaged: doctor's inventory finding for the
// fixture's tenant counts its unmanaged certificates and names the one
// that expires first; 5 days out, it is a warning with the fix.
func TestScanDoctorCountsUnmanaged(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	_, findings, _ := doctorLines(t, "-c", f.path)
	var got *finding
	for i, fd := range findings {
		if fd.Check == "tenant contoso inventory" {
			got = &findings[i]
		}
	}
	if got == nil {
		t.Fatalf("doctor has no inventory finding: %+v", findings)
	}
	if got.Verdict != verdictWarn || !strings.Contains(got.Detail, "4 connectors, 3 key containers: 3 unmanaged certificates, soonest connector "+scanSoon) ||
		!strings.Contains(got.Detail, "(5 days)") || !strings.Contains(got.Detail, "2 more unmanaged without an active certificate") ||
		!strings.Contains(got.Fix, "connectors") {
		t.Errorf("inventory finding = %+v", got)
	}
}

// TestScanDoctorDeniedList: a kind the app may not read fails doctor for a
// tenant whose worker scans it (inventory: true) and warns otherwise, naming
// the read permission.
func TestScanDoctorDeniedList(t *testing.T) {
	t.Parallel()
	inv := jobs.TenantInventory{Tenant: "contoso", KeySetsErr: fmt.Errorf("listing key sets: %w", connector.ErrDenied)}
	for _, on := range []bool{false, true} {
		f := inventoryFinding(inv, config.Tenant{ClientID: scanClientID, Inventory: on}, time.Now())
		want := map[bool]string{false: verdictWarn, true: verdictFail}[on]
		if f.Verdict != want || !strings.Contains(f.Fix, keySetsReadPermission) || !strings.Contains(f.Detail, "keysets not listed") {
			t.Errorf("inventory %v: finding %+v, want %s naming %s", on, f, want, keySetsReadPermission)
		}
	}
}

// TestInventoryWorkerConfigFromFile: wire.go gives the worker the tenants
// with inventory: true, sorted, with their period; the worker's default
// period is the file's.
func TestInventoryWorkerConfigFromFile(t *testing.T) {
	t.Parallel()
	if worker.InventoryEveryDefault != config.InventoryEveryDefault {
		t.Errorf("worker's inventory period %s, the config's %s", worker.InventoryEveryDefault, config.InventoryEveryDefault)
	}
	c := &config.Config{Tenants: map[string]config.Tenant{
		"zeta":  {Inventory: true},
		"alpha": {Inventory: true, InventoryEvery: 30 * time.Minute},
		"off":   {InventoryEvery: time.Hour},
	}}
	got := workerconfig.From(c).InventoryTenants
	want := []worker.InventoryTenant{{Tenant: "alpha", Every: 30 * time.Minute}, {Tenant: "zeta"}}
	if !slices.Equal(got, want) {
		t.Errorf("InventoryTenants = %+v, want %+v", got, want)
	}
}

// TestScanUnreachable: Graph that cannot be reached exits 3, apart from a
// failed list (1), so that a script retries it.
func TestScanUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	path := testkit.WriteFile(t, t.TempDir(), "config.yaml", fmt.Sprintf(`vault: {address: "http://127.0.0.1:1", auth: {method: token, token: t}}
tenants:
  contoso: {tenant_id: %s, client_id: %s, client_secret: s, authority_url: %s, graph_url: %s}
jobs:
  - name: api
    source: {path: b2c/api}
    connectors: [{tenant: contoso, id: %s}]
http: {listen: "off"}
`, scanTenantID, scanClientID, closed, closed, scanManaged))
	code, _, errOut := runCLI(t, nil, "scan", "-c", path, "--timeout", "2s")
	if code != exitUnreachable || !strings.Contains(errOut, "reaches Microsoft Graph") {
		t.Errorf("exit %d, stderr %q; want %d and the fix", code, errOut, exitUnreachable)
	}
}
