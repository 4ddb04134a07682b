package jobs

import (
	"context"
	"errors"
	"testing"
	"time"
)

// inventoryFake is a func-field InventoryLister.
type inventoryFake struct {
	listFunc     func(tenant string) ([]ConnectorState, error)
	listKeysFunc func(tenant string) ([]KeySetState, error)
}

func (f inventoryFake) List(_ context.Context, tenant string) ([]ConnectorState, error) {
	return f.listFunc(tenant)
}

func (f inventoryFake) ListKeySets(_ context.Context, tenant string) ([]KeySetState, error) {
	return f.listKeysFunc(tenant)
}

func TestInventoryManagedAndUnmanaged(t *testing.T) {
	t.Parallel()
	const managedConn, freeConn = "7b3a0c1e-aaaa-bbbb-cccc-000000000001", "7b3a0c1e-aaaa-bbbb-cccc-000000000002"
	f := inventoryFake{
		listFunc: func(string) ([]ConnectorState, error) {
			return []ConnectorState{
				{ID: managedConn, DisplayName: "managed", Certificates: []Certificate{{Thumbprint: "aa", NotAfter: testNow.Add(90 * day), IsActive: true}}},
				{ID: freeConn, DisplayName: "free", Certificates: []Certificate{
					{Thumbprint: "bb", NotAfter: testNow.Add(3 * day)},
					{Thumbprint: "cc", NotAfter: testNow.Add(5 * day), IsActive: true},
				}},
			}, nil
		},
		listKeysFunc: func(string) ([]KeySetState, error) {
			return []KeySetState{
				{ID: "B2C_1A_Managed"},
				// Two valid keys: the later activation date is active, the
				// staged one (nbf ahead) is not yet.
				{ID: "B2C_1A_Free", Keys: []PolicyKey{
					{Kid: "late", NotBefore: testNow.Add(-day), NotAfter: testNow.Add(20 * day)},
					{Kid: "early", NotBefore: testNow.Add(-10 * day), NotAfter: testNow.Add(40 * day)},
					{Kid: "staged", NotBefore: testNow.Add(day), NotAfter: testNow.Add(400 * day)},
				}},
			}, nil
		},
	}
	jobList := []Job{{Name: "api", Connectors: []ConnectorRef{{Tenant: "t", ID: managedConn}}, KeySets: []KeySetRef{{Tenant: "t", ID: "b2c_1a_managed"}}},
		// Another tenant's binding of the same id manages nothing here.
		{Name: "other", Connectors: []ConnectorRef{{Tenant: "u", ID: freeConn}}}}
	inv := Inventory(context.Background(), f, "t", jobList, testNow)
	if inv.ConnectorsErr != nil || inv.KeySetsErr != nil || len(inv.Items) != 4 {
		t.Fatalf("inventory = %+v", inv)
	}
	byID := map[string]InventoryItem{}
	for _, it := range inv.Items {
		byID[it.ID] = it
	}
	if it := byID[managedConn]; !it.Managed || it.Job != "api" || it.Active.NotAfter != testNow.Add(90*day) {
		t.Errorf("managed connector = %+v", it)
	}
	if it := byID["B2C_1A_Managed"]; !it.Managed || it.Job != "api" || it.Active != nil {
		t.Errorf("managed key set = %+v", it)
	}
	un := inv.Unmanaged()
	if len(un) != 2 || un[0].ID != freeConn || un[0].Active.Thumbprint != "CC" || un[1].ID != "B2C_1A_Free" || un[1].Active.Kid != "late" {
		t.Errorf("unmanaged, soonest first = %+v", un)
	}
}

func TestInventoryOneKindFails(t *testing.T) {
	t.Parallel()
	denied := errors.New("403")
	f := inventoryFake{
		listFunc:     func(string) ([]ConnectorState, error) { return []ConnectorState{{ID: "c"}}, nil },
		listKeysFunc: func(string) ([]KeySetState, error) { return nil, denied },
	}
	inv := Inventory(context.Background(), f, "t", nil, testNow)
	if !errors.Is(inv.KeySetsErr, denied) || inv.ConnectorsErr != nil || len(inv.Items) != 1 || inv.Items[0].Managed {
		t.Errorf("inventory = %+v", inv)
	}
}

func TestInventoryActiveKeyAt(t *testing.T) {
	t.Parallel()
	keys := []PolicyKey{
		{Kid: "a", NotBefore: testNow.Add(-10 * day), NotAfter: testNow.Add(-day)},
		{Kid: "b", NotBefore: testNow.Add(-5 * day)},
	}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{testNow.Add(-8 * day), "a"},
		{testNow.Add(-2 * day), "b"}, // later nbf wins
		{testNow, "b"},               // a expired; b never does
		{testNow.Add(-20 * day), ""}, // none valid yet
	} {
		k, ok := ActiveKeyAt(keys, tc.at)
		if got := map[bool]string{true: k.Kid}[ok]; got != tc.want {
			t.Errorf("ActiveKeyAt(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
}
