package worker

import (
	"cmp"
	"context"
	"errors"
	"sync/atomic"
	"time"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// natsConn is the connection service: on the bus cmd opened, it
// provisions the streams, consumer and buckets (bus.Provision, retried
// while its start lasts and shown by /readyz meanwhile) and publishes
// their handles for the other services. It closes nothing: the bus is
// cmd's.
type natsConn struct {
	startstop.Base
	*shared
	bus      *natsbus.Bus
	replicas int

	release func() // ends the run Start began

	// attemptTimeout and retryBackoff pace provisioning; tests shrink them.
	attemptTimeout time.Duration
	retryBackoff   retry.Backoff
	// waitingFor is what provisioning waits for, for /readyz; nil when
	// it waits for nothing.
	waitingFor atomic.Pointer[string]
}

// Start provisions and publishes the handles.
func (c *natsConn) Start(ctx context.Context) error {
	_, ok, stopped := c.StartInit(ctx)
	if !ok {
		return nil
	}
	if c.bus == nil {
		stopped()
		return errors.New("worker: config needs a Bus (bus.Open)")
	}
	ob, err := natsbus.Provision(ctx, c.bus, natsbus.ProvisionOptions{
		Prefix:         c.prefix,
		MaxDeliver:     maxDeliver(c.jobList),
		Replicas:       c.replicas,
		Logger:         c.log,
		AttemptTimeout: cmp.Or(c.attemptTimeout, natsbus.ProvisionAttemptTimeout),
		Backoff:        c.retryBackoff,
		Clock:          c.tune.clock,
		Waiting:        c.waiting,
	})
	if err != nil {
		stopped()
		return err
	}
	c.busPtr.Store(&bus{
		nc: c.bus.Conn(), js: c.bus.JetStream(), requests: ob.Requests, cons: ob.Consumer,
		status: ob.Status, locks: ob.Locks, warnings: ob.Warnings, outcomes: ob.Outcomes,
		outcomesStream: ob.OutcomesStream, budget: ob.Budget, advisories: ob.Advisories,
	})
	// Nothing runs in the background: stopped is called by Stop.
	c.release = stopped
	return nil
}

// waiting keeps what provisioning waits for, in words /readyz may show.
func (c *natsConn) waiting(what string, err error) {
	if err == nil {
		c.waitingFor.Store(nil)
		return
	}
	msg := "provisioning " + what + ": " + describeNATSError(err) + " (retrying)"
	c.waitingFor.Store(&msg)
}

// Stop withdraws the handles. The services that used them have stopped
// before it (reverse order); the connection stays open for cmd to close.
func (c *natsConn) Stop(context.Context) error {
	ok, _, _ := c.StopInit()
	if !ok {
		return nil
	}
	c.busPtr.Store(nil)
	c.release()
	return nil
}

// maxDeliver is the requests consumer's MaxDeliver: the largest
// max_attempts of any job (the default when there are none).
func maxDeliver(jj []jobs.Job) int { return jobs.LargestMaxAttempts(jj) }
