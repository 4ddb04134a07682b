package connector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Graph's documented throttling limits for API connectors (Graph's
// throttling-limits page, identity providers service),
// the defaults of RateLimit.
const (
	AppPerMinuteDefault    = 200 // per app per tenant
	TenantPerMinuteDefault = 300 // per tenant, every app together
)

// Budget paces Graph calls so that they stay under Graph's throttling
// limits. The Client asks it before every Graph request (retries included;
// token requests are not Graph calls). The in-process Pacer is the default;
// an implementation shared by several replicas (a token bucket in NATS KV,
// say) plugs in here without changing the Client.
type Budget interface {
	// Take waits until one more call fits under every one of limits, and
	// counts it. Waiters are served in turn: by jobs.TurnOf(ctx) (when
	// their request came in), then in the order they asked. When ctx ends
	// first, or when the turn would come after jobs.WaitBound(ctx) (ctx's
	// deadline; now, once its lease is lost: a lease still held is renewed
	// while the run waits), or when the lease was lost by the time the turn
	// came, it counts nothing and returns an error that matches ctx's
	// error with errors.Is (a *BudgetError when it knows the wait). It is
	// called concurrently.
	Take(ctx context.Context, limits []Limit) error
}

// Limit is one throttling limit a call counts against: at most Count calls
// under Name in any interval of length Per. A Budget may pace below it,
// never above.
type Limit struct {
	// Name identifies the budget across calls and, for a shared Budget,
	// across replicas: "app.<tenant id>.<client id>" or "tenant.<tenant id>",
	// lower case.
	Name  string
	Count int
	Per   time.Duration
}

// BudgetError is the error of a Take that would have had to wait past
// ctx's deadline. Wait is how long the call would have waited, which the
// Client passes on as the failure's RetryAfter so that the worker comes
// back when the budget has room.
type BudgetError struct {
	Name string // the limit that would have made the call wait longest
	// Wait is how long from the refusal the turn would have come: the
	// RetryAfter of the run, which comes back then. (Counted from when
	// Take began, it sent back a caller that had already waited 16 s of a
	// 25 s bound 16 s too late, and the budget idled meanwhile.)
	Wait time.Duration
	Err  error // context.DeadlineExceeded
}

// Error says which budget and how long.
func (e *BudgetError) Error() string {
	return fmt.Sprintf("graph budget %s has room in %s, after the deadline: %v", e.Name, e.Wait, e.Err)
}

// Unwrap returns the context error.
func (e *BudgetError) Unwrap() error { return e.Err }

// RateLimit is a tenant's throttling limits as Graph applies them. Zero
// fields take Graph's documented values.
type RateLimit struct {
	// AppPerMinute bounds this app's calls in the tenant. Defaults to 200.
	AppPerMinute int
	// TenantPerMinute bounds every app's calls in the tenant together; a
	// Client counts only its own. Defaults to 300.
	TenantPerMinute int
}

// limitsOf returns the two limits every call of t counts against. window
// stands for Graph's minute (benchmarks compress it).
func limitsOf(key string, t Tenant, window time.Duration) []Limit {
	tenant := strings.ToLower(t.TenantID)
	app := strings.ToLower(t.ClientID)
	if app == "" {
		app = "key-" + key // a Credential without a client id: one app per tenant key
	}
	rl := t.RateLimit
	return []Limit{
		{Name: contract.BudgetAppLimit(tenant, app), Count: positiveOr(rl.AppPerMinute, AppPerMinuteDefault), Per: window},
		{Name: contract.BudgetTenantLimit(tenant), Count: positiveOr(rl.TenantPerMinute, TenantPerMinuteDefault), Per: window},
	}
}

func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// unpaced is the Budget of Config.Budget = Unpaced.
type unpaced struct{}

func (unpaced) Take(ctx context.Context, _ []Limit) error { return ctx.Err() }

// Unpaced is a Budget that never waits: for tests and benchmarks that
// measure the Client itself rather than Graph's limits.
var Unpaced Budget = unpaced{}

// agreeLimits makes tenant keys that name the same limit (two app
// registrations in one tenant share its tenant-wide limit) use the lowest
// Count configured for it, so that one budget is not re-sized back and
// forth between them.
func agreeLimits(byKey map[string][]Limit) {
	lowest := map[string]int{}
	for _, ls := range byKey {
		for _, l := range ls {
			if n, ok := lowest[l.Name]; !ok || l.Count < n {
				lowest[l.Name] = l.Count
			}
		}
	}
	for _, ls := range byKey {
		for i := range ls {
			ls[i].Count = lowest[ls[i].Name]
		}
	}
}
