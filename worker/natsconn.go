package worker

import (
	"cmp"
	"context"
	"errors"
	"sync/atomic"
	"time"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/internal/baseservice"
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
	baseservice.BaseService
	bus      *natsbus.Bus
	prefix   string
	jobList  []jobs.Job // their largest max_attempts is the consumer's MaxDeliver
	replicas int
	busPtr   atomic.Pointer[bus]

	release func() // ends the run Start began

	// attemptTimeout and retryBackoff pace provisioning; tests shrink them.
	attemptTimeout time.Duration
	retryBackoff   retry.Backoff
	// waitingFor is what provisioning waits for, for /readyz; nil when
	// it waits for nothing.
	waitingFor atomic.Pointer[string]
}

func newNATSConn(a *baseservice.Archetype, b *natsbus.Bus, prefix string, jj []jobs.Job, replicas int) *natsConn {
	c := &natsConn{bus: b, prefix: prefix, jobList: jj, replicas: replicas}
	c.Init(a)
	return c
}

// bus is what the connection service provisions and the other services use.
type bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	requests jetstream.Stream
	cons     jetstream.Consumer
	status   jetstream.KeyValue
	locks    jetstream.KeyValue
	warnings jetstream.KeyValue
	outcomes jetstream.KeyValue // records of runs not yet settled; see record
	// outcomesStream is the outcomes bucket's stream, to drop settled keys
	// without delete markers (dropOutcomeKey); nil when it was not read.
	outcomesStream jetstream.Stream
	// advisories hands out the max-deliveries advisories kept in their
	// stream, one replica each.
	advisories jetstream.Consumer
}

// handles returns the provisioned handles, or nil before Start or after
// Stop.
func (c *natsConn) handles() *bus { return c.busPtr.Load() }

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
		Logger:         c.Logger(),
		AttemptTimeout: cmp.Or(c.attemptTimeout, natsbus.ProvisionAttemptTimeout),
		Backoff:        c.retryBackoff,
		Clock:          c.Clock(),
		Waiting:        c.waiting,
	})
	if err != nil {
		stopped()
		return err
	}
	c.busPtr.Store(&bus{
		nc: c.bus.Conn(), js: c.bus.JetStream(), requests: ob.Requests, cons: ob.Consumer,
		status: ob.Status, locks: ob.Locks, warnings: ob.Warnings, outcomes: ob.Outcomes,
		outcomesStream: ob.OutcomesStream, advisories: ob.Advisories,
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
