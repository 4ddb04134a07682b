package jobs

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// InventoryLister reads every API connector and every B2C policy key
// container of a tenant, each with the list call, paged by the adapter.
// Errors are classified as Connector's: a missing permission is Permanent
// (the adapter's ErrDenied). *connector.Client implements it.
type InventoryLister interface {
	Lister
	ListKeySets(ctx context.Context, tenant string) ([]KeySetState, error)
}

// InventoryItem is one certificate-bearing target of a tenant, as the
// inventory found it: an API connector or a policy key container, its
// active certificate or key, and the job that rotates it, if any.
type InventoryItem struct {
	Tenant string `json:"tenant"`
	Kind   string `json:"kind"` // KindConnector or KindKeySet
	ID     string `json:"id"`   // the connector's GUID or the container's B2C_1A_… id
	// Name is the connector's display name; "" for a key set.
	Name string `json:"name,omitempty"`
	// AuthType is the connector's authentication type ("basic" holds no
	// certificate); "" for a key set.
	AuthType string `json:"auth_type,omitempty"`
	// Active is the certificate the connector marks active, or the key B2C
	// uses now (the activation-date rule, ActiveKeyAt); nil when none is.
	Active *CertInfo `json:"active,omitempty"`
	// Count is how many certificates or keys the target holds.
	Count int `json:"count"`
	// Job names the configured job that binds the target; "" when none
	// does (Managed false).
	Job     string `json:"job,omitempty"`
	Managed bool   `json:"managed"`
}

// TenantInventory is the inventory of one tenant. A failed list leaves its
// kind out and says why in ConnectorsErr or KeySetsErr, so that a tenant
// whose app may read only one kind is still scanned for the other.
type TenantInventory struct {
	Tenant        string          `json:"tenant"`
	Items         []InventoryItem `json:"items"`
	ConnectorsErr error           `json:"-"`
	KeySetsErr    error           `json:"-"`
}

// Unmanaged returns the items no job binds that hold an active
// certificate or key with an expiry, soonest expiry first.
func (inv TenantInventory) Unmanaged() []InventoryItem {
	var out []InventoryItem
	for _, it := range inv.Items {
		if !it.Managed && it.Active != nil && !it.Active.NotAfter.IsZero() {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(a, b InventoryItem) int { return a.Active.NotAfter.Compare(b.Active.NotAfter) })
	return out
}

// Inventory lists the tenant's connectors and key containers and tells,
// for each, its active certificate at now and which of jobList binds it.
// It makes one list call per page of each kind and no other Graph call.
func Inventory(ctx context.Context, l InventoryLister, tenant string, jobList []Job, now time.Time) TenantInventory {
	inv := TenantInventory{Tenant: tenant}
	owners := inventoryOwners(tenant, jobList)
	conns, err := l.List(ctx, tenant)
	inv.ConnectorsErr = err
	for _, c := range conns {
		it := InventoryItem{Tenant: tenant, Kind: KindConnector, ID: c.ID, Name: c.DisplayName, AuthType: c.AuthType, Count: len(c.Certificates)}
		if a, ok := c.Active(); ok {
			it.Active = activeInfo(&a)
		}
		it.Job, it.Managed = owners.of(KindConnector, c.ID)
		inv.Items = append(inv.Items, it)
	}
	sets, err := l.ListKeySets(ctx, tenant)
	inv.KeySetsErr = err
	for _, ks := range sets {
		it := InventoryItem{Tenant: tenant, Kind: KindKeySet, ID: ks.ID, Count: len(ks.Keys)}
		if k, ok := ActiveKeyAt(ks.Keys, now); ok {
			it.Active = keyInfo(k)
		}
		it.Job, it.Managed = owners.of(KindKeySet, ks.ID)
		inv.Items = append(inv.Items, it)
	}
	return inv
}

// ActiveKeyAt applies B2C's rule for which key of a container is active at
// now (the "policy keys overview"): keys are ordered by activation date
// (nbf; Graph's order, which is upload order, breaks ties), and the active
// key is the latest whose nbf has passed and that has not expired, so that
// when it expires the next valid one takes over. ok is false when no key
// is valid. The inventory uses it instead of one getActiveKey per
// container, so that a scan costs list calls only.
func ActiveKeyAt(keys []PolicyKey, now time.Time) (PolicyKey, bool) {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return keys[a].NotBefore.Compare(keys[b].NotBefore) })
	for i := len(order) - 1; i >= 0; i-- {
		k := keys[order[i]]
		if !now.Before(k.NotBefore) && (k.NotAfter.IsZero() || now.Before(k.NotAfter)) {
			return k, true
		}
	}
	return PolicyKey{}, false
}

// owners maps "<kind>/<lower-case id>" to the job that binds the target.
type owners map[string]string

func inventoryOwners(tenant string, jobList []Job) owners {
	o := owners{}
	add := func(kind, id, job string) {
		k := kind + "/" + strings.ToLower(id)
		// Several jobs may bind one target; the first in config order
		// names it, as a stable answer.
		o[k] = cmp.Or(o[k], job)
	}
	for _, j := range jobList {
		for _, c := range j.Connectors {
			if c.Tenant == tenant {
				add(KindConnector, c.ID, j.Name)
			}
		}
		for _, k := range j.KeySets {
			if k.Tenant == tenant {
				add(KindKeySet, k.ID, j.Name)
			}
		}
	}
	return o
}

func (o owners) of(kind, id string) (string, bool) {
	job, ok := o[kind+"/"+strings.ToLower(id)]
	return job, ok
}
