package jobs

import (
	"context"
	"sync"
	"time"
)

// listCache shares a tenant's list between the scheduled runs of one tick,
// as bundleCache shares a bundle: jobs that cover parts of one tenant list
// it once per tick, not once per job, so a tenant with many jobs spends its
// Graph budget on uploads. Concurrent loads of one tenant wait for the
// first; entries live bundleCacheTTL. A failed or cancelled list is not
// kept. Only cron runs use it, and a list only decides what is due: the
// connector is read again right before any upload, so a list a few seconds
// old never uploads twice.
type listCache struct {
	mu      sync.Mutex
	entries map[string]*listEntry
}

type listEntry struct {
	ready  chan struct{} // closed once val and err are set
	val    listed
	err    error
	loaded time.Time
}

// get returns tenant's list, loading it with load unless a fresh entry
// exists or is being loaded.
func (c *listCache) get(ctx context.Context, tenant string, now time.Time, load func(context.Context) (listed, error)) (listed, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*listEntry{}
	}
	for k, e := range c.entries {
		if now.Sub(e.loaded) > bundleCacheTTL || now.Before(e.loaded) {
			delete(c.entries, k)
		}
	}
	e, ok := c.entries[tenant]
	if !ok {
		e = &listEntry{ready: make(chan struct{}), loaded: now}
		c.entries[tenant] = e
		c.mu.Unlock()
		e.val, e.err = load(ctx)
		close(e.ready)
		if e.err != nil {
			c.drop(tenant, e) // the next run lists again
		}
		return e.val, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.val, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *listCache) drop(tenant string, e *listEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[tenant] == e {
		delete(c.entries, tenant)
	}
}
