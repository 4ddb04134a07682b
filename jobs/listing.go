package jobs

import (
	"context"
	"log/slog"
	"strings"

	"github.com/certrotator/certrotator/contract"
)

// Lister reads every API connector of a tenant in one call (paged by the
// adapter). A Connector that also implements it lets a run that covers
// several connectors of one tenant read their state with the list call and
// GET a connector only right before uploading to it: Graph's rate limits
// then go to uploads, and a run where nothing is due costs one call per page
// per tenant. *connector.Client implements it.
type Lister interface {
	List(ctx context.Context, tenant string) ([]ConnectorState, error)
}

// listed is the state of a run's connectors as the list call gave it, by
// lower-case connector id; nil for a tenant that was not listed.
type listed map[string]ConnectorState

// listTenants lists, once per run, each tenant with at least two connectors
// in play (for one, a GET is cheaper than a list and a GET); scheduled runs
// of one tick share each tenant's list (listCache). A failed list is logged
// and leaves those connectors to their own GET.
func (r *Rotator) listTenants(ctx context.Context, job Job, req Request, refs []ConnectorRef) listing {
	l, ok := r.cfg.Connector.(Lister)
	if !ok {
		return nil
	}
	count := map[string]int{}
	for _, ref := range refs {
		count[ref.Tenant]++
	}
	out := listing{}
	for tenant, n := range count {
		if n < 2 {
			continue
		}
		load := func(ctx context.Context) (listed, error) { return list(ctx, l, tenant) }
		var m listed
		var err error
		if req.Trigger == contract.TriggerCron {
			m, err = r.lists.get(ctx, tenant, r.now(), load)
		} else {
			m, err = load(ctx)
		}
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "listing connectors, reading each instead",
				slog.String("job", job.Name), slog.String("tenant", tenant), slog.String("error", err.Error()))
			continue
		}
		out[tenant] = m
	}
	return out
}

// list reads tenant's connectors by lower-case id.
func list(ctx context.Context, l Lister, tenant string) (listed, error) {
	all, err := l.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	m := make(listed, len(all))
	for _, st := range all {
		m[strings.ToLower(st.ID)] = st
	}
	return m, nil
}

// listing is a run's listed tenants.
type listing map[string]listed

// lookup returns a connector's listed state, if its tenant was listed and
// the list held it.
func (ls listing) lookup(ref ConnectorRef) (ConnectorState, bool) {
	st, ok := ls[ref.Tenant][strings.ToLower(ref.ID)]
	return st, ok
}
