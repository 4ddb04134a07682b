package contract

import "strconv"

// InventoryJob is the job token of the inventory's expiry warnings (their
// subject <prefix>.result._inventory.<target id> and their outcome's job)
// and of its keys: "_"-prefixed like UnknownJobToken, so that it stands
// apart from every rotation job (job names cannot start a key with it and
// hold a '.').
const InventoryJob = "_inventory"

// InventoryKey is the outcomes bucket's key of a tenant's latest inventory
// scan, _inventory.<tenant>: the replica that scans writes it and every
// replica reads it, so that all export and show the same inventory.
func InventoryKey(tenant string) string { return InventoryJob + "." + tenant }

// InventoryLockKey is the locks bucket's key that claims one scan slot of
// a tenant, _inventory.<tenant>.<unix seconds of the slot>: every replica
// tries to create it at the slot and the one that does scans, so a slot is
// scanned once across replicas. The bucket's TTL removes it.
func InventoryLockKey(tenant string, slotUnix int64) string {
	return InventoryJob + "." + tenant + "." + strconv.FormatInt(slotUnix, 10)
}
