package config

// rateLimitKeys are the keys of tenants.<t>.rate_limit.
var rateLimitKeys = []string{"app_per_minute", "tenant_per_minute"}

// RateLimit is a tenant's `rate_limit`: the throttling limits Graph applies
// to API-connector calls, which the worker paces below.
type RateLimit struct {
	AppPerMinute    int // per app per tenant; defaults to 200
	TenantPerMinute int // per tenant, every app together; defaults to 300
}

// rateLimit reads a tenant's rate_limit section; absent keys take Graph's
// documented limits.
func (d *decoder) rateLimit(s section) RateLimit {
	rl := RateLimit{
		AppPerMinute:    s.integer("app_per_minute", AppPerMinuteDefault),
		TenantPerMinute: s.integer("tenant_per_minute", TenantPerMinuteDefault),
	}
	if rl.AppPerMinute < 1 {
		s.problem("app_per_minute", "%d is not a positive number of requests", rl.AppPerMinute)
	}
	if rl.TenantPerMinute < 1 {
		s.problem("tenant_per_minute", "%d is not a positive number of requests", rl.TenantPerMinute)
	}
	return rl
}
