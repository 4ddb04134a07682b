package connector

import (
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
)

// TestInventoryListsKeySets: with TrustFrameworkKeySet.Read.All only, the
// inventory lists every container across pages, works out the active key
// (the uploaded one: the later nbf) with its subject from x5c, and tells
// the container a job binds from those no job does.
func TestInventoryListsKeySets(t *testing.T) {
	t.Parallel()
	old := graphsim.Key{Kid: "old", NotBefore: testNow.Add(-100 * 24 * time.Hour), NotAfter: testNow.Add(10 * 24 * time.Hour)}
	sim, c, _ := keySetHarness(t, old)
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	if _, err := c.UploadKey(t.Context(), testTenantKey, testKeySet, b.PFX, b.Password); err != nil {
		t.Fatalf("UploadKey: %v", err)
	}
	sim.KeySetsReadOnly(testTenantID, testClientID, true)
	job := jobs.Job{Name: "signing", KeySets: []jobs.KeySetRef{{Tenant: testTenantKey, ID: "b2c_1a_tokensigningkeycontainer"}}}
	inv := jobs.Inventory(t.Context(), c, testTenantKey, []jobs.Job{job}, testNow)
	if inv.ConnectorsErr != nil || inv.KeySetsErr != nil || len(inv.Items) != 3 {
		t.Fatalf("inventory = %+v (connectors: %v, key sets: %v)", inv, inv.ConnectorsErr, inv.KeySetsErr)
	}
	byID := map[string]jobs.InventoryItem{}
	for _, it := range inv.Items {
		byID[it.ID] = it
	}
	rest := byID[testKeySet]
	if rest.Managed || rest.Count != 2 || rest.Active == nil || rest.Active.Thumbprint != b.Thumbprint ||
		rest.Active.Subject != "CN=api.contoso.example" || !rest.Active.NotAfter.Equal(b.NotAfter.Truncate(time.Second)) {
		t.Errorf("%s = %+v (active %+v), want unmanaged with the uploaded key active and its subject", testKeySet, rest, rest.Active)
	}
	if s := byID["B2C_1A_TokenSigningKeyContainer"]; !s.Managed || s.Job != "signing" || s.Active != nil {
		t.Errorf("signing container = %+v, want managed by signing, no key", s)
	}
}
