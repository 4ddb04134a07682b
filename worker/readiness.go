package worker

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// checkTimeout bounds each readiness check, so that a hung Vault makes the
// probe answer "not ready" instead of timing out.
const checkTimeout = 2 * time.Second

// readiness runs every check: NATS connected, consumer bound, then the
// configured ones (Config.Checks) in name order. It returns whether all
// passed and one line per check.
func (w *Worker) readiness(ctx context.Context) (bool, []string) {
	ready := true
	var lines []string
	report := func(name string, err error) {
		if err != nil {
			ready = false
			lines = append(lines, name+": "+err.Error())
			return
		}
		lines = append(lines, name+": ok")
	}
	b := w.bus()
	switch {
	case b == nil:
		report("nats", errNotConnected)
	case !b.nc.IsConnected():
		report("nats", fmt.Errorf("disconnected (%s)", b.nc.Status()))
	default:
		report("nats", nil)
	}
	if w.consumer.bound.Load() {
		report("consumer", nil)
	} else {
		report("consumer", errNotBound)
	}
	for _, name := range slices.Sorted(maps.Keys(w.checks)) {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := w.checks[name](cctx)
		cancel()
		report(name, err)
	}
	return ready, lines
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
