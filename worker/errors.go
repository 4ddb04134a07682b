package worker

import (
	"errors"

	"github.com/certrotator/certrotator/internal/baseservice"
)

var (
	// errNotConnected: a service ran before the connection service
	// published the bus, or after it closed it; the one error of every
	// service, so that /readyz names it whichever service met it.
	errNotConnected = baseservice.ErrNotConnected
	// errShuttingDown is the cause of the in-flight context's cancellation
	// when Stop runs out of patience.
	errShuttingDown = errors.New("worker: shutting down")
)
