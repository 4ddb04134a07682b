package config

import (
	"strings"
	"testing"
	"time"
)

const clientSecretLine = "    client_secret: s3cr3t\n"

func TestInventoryConfig(t *testing.T) {
	t.Parallel()
	c := mustParse(t, valid, nil)
	if tn := c.Tenants["contoso"]; tn.Inventory || tn.InventoryEvery != 0 {
		t.Errorf("defaults: inventory %v every %s, want false and 0 (the worker's default, %s)", tn.Inventory, tn.InventoryEvery, InventoryEveryDefault)
	}
	c = mustParse(t, edit(t, clientSecretLine, clientSecretLine+"    inventory: true\n    inventory_every: 30m\n"), nil)
	if tn := c.Tenants["contoso"]; !tn.Inventory || tn.InventoryEvery != 30*time.Minute {
		t.Errorf("inventory %v every %s, want true and 30m", tn.Inventory, tn.InventoryEvery)
	}
}

func TestInventoryConfigProblems(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, lines, key, message string }{
		{"too often", "    inventory: true\n    inventory_every: 1m\n", "tenants.contoso.inventory_every", "1m0s is shorter than 5m0s"},
		{"too rarely", "    inventory: true\n    inventory_every: 2d\n", "tenants.contoso.inventory_every", "48h0m0s is longer than 24h0m0s"},
		{"without inventory", "    inventory_every: 2h\n", "tenants.contoso.inventory_every", "is set but inventory is not true: add inventory: true"},
		{"not a boolean", "    inventory: hourly\n", "tenants.contoso.inventory", ""},
		{"not a duration", "    inventory: true\n    inventory_every: often\n", "tenants.contoso.inventory_every", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, edit(t, clientSecretLine, clientSecretLine+tt.lines), nil)
			for _, p := range got {
				if p.Key == tt.key && strings.HasPrefix(p.Message, tt.message) {
					return
				}
			}
			t.Errorf("no problem %s: %s among %+v", tt.key, tt.message, got)
		})
	}
}
