package worker

import "errors"

var (
	// errNotConnected: a service ran before the connection service
	// published the bus, or after it closed it.
	errNotConnected = errors.New("worker: not connected to NATS")
	// errShuttingDown is the cause of the in-flight context's cancellation
	// when Stop runs out of patience.
	errShuttingDown = errors.New("worker: shutting down")
)
