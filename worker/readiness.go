package worker

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// checkTimeout bounds each readiness check, so that a hung Vault makes the
// probe answer "not ready" instead of timing out.
const checkTimeout = 2 * time.Second

// checkCacheTTL is how long the result of the configured checks is reused:
// /readyz answers anyone, and each check is a call to a remote (for Vault
// a token lookup, retried by its client), so that probes and strangers
// together cost at most one round of checks per TTL.
const checkCacheTTL = 5 * time.Second

// checkCache holds the last round of configured checks. One round runs at
// a time; callers meanwhile wait for it and share its result.
type checkCache struct {
	mu      sync.Mutex
	at      time.Time
	results map[string]error
	failing map[string]bool // for logging only a change
}

// readiness runs every check: NATS connected, consumer bound, then the
// configured ones (Config.Checks) in name order. It returns whether all
// passed and one line per check. The lines name what is missing, never an
// error's own text: the probe is unauthenticated.
func (w *Worker) readiness(ctx context.Context) (bool, []string) {
	ready := true
	var lines []string
	report := func(name, missing string) {
		if missing != "" {
			ready = false
			lines = append(lines, name+": "+missing)
			return
		}
		lines = append(lines, name+": ok")
	}
	b := w.bus()
	switch {
	case b == nil:
		missing := "not connected"
		if p := w.conn.waitingFor.Load(); p != nil {
			missing = *p
		}
		report("nats", missing)
	case !b.nc.IsConnected():
		report("nats", fmt.Sprintf("disconnected (%s)", b.nc.Status()))
	default:
		report("nats", "")
	}
	if w.consumer.bound.Load() {
		report("consumer", "")
	} else {
		report("consumer", "not bound to the requests consumer")
	}
	results := w.runChecks(ctx)
	for _, name := range slices.Sorted(maps.Keys(results)) {
		missing := ""
		if err := results[name]; err != nil {
			missing = describeCheckError(err)
		}
		report(name, missing)
	}
	return ready, lines
}

// runChecks returns the configured checks' results, running them afresh
// when the last round is older than checkCacheTTL.
func (w *Worker) runChecks(ctx context.Context) map[string]error {
	c := &w.checkCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := w.arch.Now()
	if c.results != nil && now.Sub(c.at) < checkCacheTTL && !now.Before(c.at) {
		return c.results
	}
	results := make(map[string]error, len(w.checks))
	if c.failing == nil {
		c.failing = map[string]bool{}
	}
	for _, name := range slices.Sorted(maps.Keys(w.checks)) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		err := w.checks[name](cctx)
		cancel()
		results[name] = err
		if failing := err != nil; failing != c.failing[name] {
			c.failing[name] = failing
			if failing {
				w.log.Warn("readiness check failing", "check", name, "error", err)
			} else {
				w.log.Info("readiness check passing again", "check", name)
			}
		}
	}
	c.results, c.at = results, now
	return results
}

// serveReady answers /readyz: 200 when every check passes, else 503; the
// body lists each check, so that whoever reads the probe sees what is
// missing.
func (w *Worker) serveReady(rw http.ResponseWriter, r *http.Request) {
	ready, lines := w.readiness(r.Context())
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	if !ready {
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(rw, "not ready")
	} else {
		_, _ = fmt.Fprintln(rw, "ready")
	}
	_, _ = fmt.Fprintln(rw, strings.Join(lines, "\n"))
}
