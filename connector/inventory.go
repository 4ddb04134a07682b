package connector

import "github.com/certrotator/certrotator/jobs"

// The inventory (jobs.Inventory, `certrotator scan`, the worker's scheduled
// scan) lists a tenant's connectors with List and its policy key
// containers with ListKeySets (keyset.go, where the beta path lives): list
// calls only, paced and retried like every other call.
var _ jobs.InventoryLister = (*Client)(nil)
