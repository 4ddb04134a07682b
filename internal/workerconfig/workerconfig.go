// Package workerconfig maps the config file onto the worker's own Config.
// The worker does not import config (its rooms are kept apart by
// .golangci.yaml), so the mapping lives here once: cmd/certrotator wires
// the served worker with it, and the tests that start a worker from a
// config file (bench, docs, deploy, e2e) use the very same mapping.
package workerconfig

import (
	"slices"
	"strings"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/worker"
)

// From is the part of the worker's Config the file gives: instance,
// subject prefix, concurrency, jobs, NATS replicas and the HTTP address.
// The caller adds the Rotator and whatever else it wires.
func From(c *config.Config) worker.Config {
	listen := c.HTTP.Listen
	if listen == config.HTTPOff {
		listen = worker.HTTPListenOff
	}
	return worker.Config{
		Instance:      c.Instance,
		SubjectPrefix: c.NATS.SubjectPrefix,
		Concurrency:   c.Concurrency,
		Jobs:          c.Jobs,
		Replicas:      c.NATS.Replicas,
		HTTPListen:    listen,
		// Tenants with inventory: true, scanned on their schedule.
		InventoryTenants: inventoryTenants(c),
	}
}

// inventoryTenants are the config's tenants with inventory: true, sorted.
func inventoryTenants(c *config.Config) []worker.InventoryTenant {
	var out []worker.InventoryTenant
	for name, t := range c.Tenants {
		if t.Inventory {
			out = append(out, worker.InventoryTenant{Tenant: name, Every: t.InventoryEvery})
		}
	}
	slices.SortFunc(out, func(a, b worker.InventoryTenant) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out
}
