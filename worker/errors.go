package worker

import "errors"

var (
	// errNotConnected: a service ran before the connection service
	// published the bus, or after it closed it.
	errNotConnected = errors.New("worker: not connected to NATS")
	// errShuttingDown is the cause of the in-flight context's cancellation
	// when Stop runs out of patience.
	errShuttingDown = errors.New("worker: shutting down")
	// errLockBusy: another replica held the job's lock for the whole wait.
	errLockBusy = errors.New("worker: job locked by another replica")
	// errLockLost: the lock expired or was taken while this replica worked.
	errLockLost = errors.New("worker: job lock lost")
	// errLeaseStale: NATS has not confirmed the lock for half its TTL; the
	// lock may be about to expire unseen, so the run stops.
	errLeaseStale = errors.New("worker: job lock not confirmed recently")
)
