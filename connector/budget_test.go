package connector

import (
	"testing"
	"time"
)

func TestLimitsOf(t *testing.T) {
	t.Parallel()
	got := limitsOf("contoso", Tenant{TenantID: "AbC", ClientID: "XyZ", RateLimit: RateLimit{TenantPerMinute: 600}}, 6*time.Second)
	want := []Limit{{Name: "app.abc.xyz", Count: 200, Per: 6 * time.Second}, {Name: "tenant.abc", Count: 600, Per: 6 * time.Second}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("limitsOf = %+v, want %+v", got, want)
	}
	if got := limitsOf("fabrikam", Tenant{TenantID: "t"}, time.Minute); got[0].Name != "app.t.key-fabrikam" {
		t.Errorf("app limit without a client id = %q, want one per tenant key", got[0].Name)
	}
}

func TestTenantKeysOfOneTenantShareItsLowestLimit(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Tenants: map[string]Tenant{
		"a": {TenantID: "t", ClientID: "app-a", ClientSecret: "s", RateLimit: RateLimit{TenantPerMinute: 300}},
		"b": {TenantID: "T", ClientID: "app-b", ClientSecret: "s", RateLimit: RateLimit{TenantPerMinute: 120}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		if l := c.limits[key][1]; l.Name != "tenant.t" || l.Count != 120 {
			t.Errorf("%s: tenant limit %+v, want tenant.t at 120", key, l)
		}
		if l := c.limits[key][0]; l.Count != 200 {
			t.Errorf("%s: app limit %+v, want its own 200", key, l)
		}
	}
}

func TestNegativeRateLimitIsRefused(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Tenants: map[string]Tenant{"a": {TenantID: "t", ClientID: "c", ClientSecret: "s", RateLimit: RateLimit{AppPerMinute: -1}}}})
	if err == nil {
		t.Fatal("New accepted a negative rate limit")
	}
}
