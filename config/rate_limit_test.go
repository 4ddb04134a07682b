package config

import (
	"testing"
)

// graphRateLimit is what a tenant without rate_limit gets.
var graphRateLimit = RateLimit{AppPerMinute: AppPerMinuteDefault, TenantPerMinute: TenantPerMinuteDefault}

// rateLimitConfig is a valid config whose tenant has the given rate_limit
// line (or none).
func rateLimitConfig(line string) string {
	return `vault: {address: https://vault.example:8200, auth: {method: token, token: t}}
tenants:
  contoso:
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: s
` + line + `
jobs:
  - name: contoso-api
    source: {path: b2c/contoso-api}
    connectors: [{tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}]
`
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want RateLimit
	}{
		{"absent: Graph's limits", "", RateLimit{AppPerMinute: 200, TenantPerMinute: 300}},
		{"empty", "    rate_limit: {}", graphRateLimit},
		{"both", "    rate_limit: {app_per_minute: 100, tenant_per_minute: 150}", RateLimit{AppPerMinute: 100, TenantPerMinute: 150}},
		{"one", "    rate_limit: {tenant_per_minute: 600}", RateLimit{AppPerMinute: 200, TenantPerMinute: 600}},
		{"null", "    rate_limit:", RateLimit{AppPerMinute: 200, TenantPerMinute: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, rateLimitConfig(tt.line), nil)
			if got := c.Tenants["contoso"].RateLimit; got != tt.want {
				t.Errorf("RateLimit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRateLimitProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, key string
	}{
		{"    rate_limit: {app_per_minute: 0}", "tenants.contoso.rate_limit.app_per_minute"},
		{"    rate_limit: {tenant_per_minute: -5}", "tenants.contoso.rate_limit.tenant_per_minute"},
		{"    rate_limit: {app_per_minute: many}", "tenants.contoso.rate_limit.app_per_minute"},
		{"    rate_limit: {app_per_min: 100}", "tenants.contoso.rate_limit.app_per_min"},
		{"    rate_limit: 300", "tenants.contoso.rate_limit"},
	}
	for _, tt := range tests {
		got := problems(t, rateLimitConfig(tt.line), nil)
		if len(got) != 1 || got[0].Key != tt.key || got[0].Line != 7 {
			t.Errorf("%s: problems %+v, want one at line 7 for %s", tt.line, got, tt.key)
		}
	}
}
