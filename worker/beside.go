package worker

import (
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// NATSConn returns the worker's NATS connection once Start has opened it,
// nil before: the services that run beside the worker (package notify)
// read the streams through it instead of opening their own, which an
// in-process embedded server would not even allow.
func (w *Worker) NATSConn() *nats.Conn {
	if b := w.bus(); b != nil {
		return b.nc
	}
	return nil
}

// Registry is the registry /metrics serves, so that services beside the
// worker add their metrics to the same page.
func (w *Worker) Registry() *prometheus.Registry { return w.registry }
