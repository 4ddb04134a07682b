package config

import (
	"slices"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

var tenantKeys = []string{
	"tenant_id", "cloud", "client_id", "client_secret", "client_secret_file",
	"client_certificate_file", "workload_identity", "authority_url", "graph_url",
	"rate_limit", "inventory", "inventory_every",
}

// tenants reads the `tenants` mapping, keyed by tenant key.
func (d *decoder) tenants(root section) map[string]Tenant {
	out := map[string]Tenant{}
	n := root.mapping("tenants")
	if n == nil {
		return out
	}
	for _, e := range d.pairs(n, "tenants") {
		name := e.key.Value
		path := join("tenants", name)
		if !jobs.ValidName(name) {
			d.add(e.key.Line, path, "tenant keys may hold only letters, digits, - and _")
		}
		out[name] = d.tenant(d.section(e.value, path, e.key.Line, append(slices.Clip(tenantKeys), credentialOptionKeys...)...))
	}
	return out
}

func (d *decoder) tenant(s section) Tenant {
	t := Tenant{
		TenantID:              s.str("tenant_id", ""),
		Cloud:                 s.str("cloud", CloudDefault),
		ClientID:              s.str("client_id", ""),
		ClientCertificateFile: s.str("client_certificate_file", ""),
		WorkloadIdentity:      s.boolean("workload_identity", false),
		AuthorityURL:          s.str("authority_url", ""),
		GraphURL:              s.str("graph_url", ""),
		RateLimit:             d.rateLimit(s.sub("rate_limit", rateLimitKeys...)),
		Inventory:             s.boolean("inventory", false),
		InventoryEvery:        s.duration("inventory_every", 0),
	}
	inventoryEvery(s, t)
	d.tenantID(s, t.TenantID)
	if !s.boolean("managed_identity", false) {
		d.requireGUID(s, "client_id", t.ClientID)
	}
	cloudName(s, t.Cloud)
	for _, k := range []string{"authority_url", "graph_url"} {
		if v := s.str(k, ""); v != "" && !isHTTPURL(v) {
			s.problem(k, "%q is not an http:// or https:// URL", redactURL(v))
		}
	}
	d.credential(s, &t)
	return t
}

// InventoryEveryDefault is how often the worker scans a tenant with
// inventory: true when inventory_every is not set (Tenant.InventoryEvery
// is then zero; the worker applies it).
const InventoryEveryDefault = time.Hour

// InventoryEveryMin bounds inventory_every from below: a scan lists every
// connector and key container, and Graph's limits are shared with the
// rotations.
const InventoryEveryMin = 5 * time.Minute

// InventoryEveryMax bounds inventory_every from above: the replicas share
// a scan in the outcomes bucket, whose entries live 24h.
const InventoryEveryMax = 24 * time.Hour

// inventoryEvery checks inventory_every: at least InventoryEveryMin, and
// only with inventory: true, where it means something.
func inventoryEvery(s section, t Tenant) {
	if t.InventoryEvery == 0 {
		return // absent (the default), 0 (the default too), or not a duration (reported)
	}
	switch {
	case t.InventoryEvery > InventoryEveryMax:
		s.problem("inventory_every", "%s is longer than %s: the replicas share each scan in a bucket that keeps it %s; use 1h (the default) or at most %s",
			t.InventoryEvery, InventoryEveryMax, InventoryEveryMax, InventoryEveryMax)
	case t.InventoryEvery < InventoryEveryMin:
		s.problem("inventory_every", "%s is shorter than %s: each scan lists every connector and key container of the tenant; use 1h (the default) or at least %s",
			t.InventoryEvery, InventoryEveryMin, InventoryEveryMin)
	case !t.Inventory:
		s.problem("inventory_every", "is set but inventory is not true: add inventory: true to scan the tenant on this schedule, or remove inventory_every")
	}
}

func (d *decoder) requireGUID(s section, name, v string) {
	switch {
	case !s.has(name):
		s.problem(name, "required")
	case !jobs.IsGUID(v):
		s.problem(name, "%q is not a GUID", v)
	}
}
