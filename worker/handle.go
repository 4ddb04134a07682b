package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/lease"
)

// handle runs one request message to its end: decode, lock, rotate,
// publish, settle, release. Every path acks, naks or terminates the message,
// except a failed ack, which JetStream answers by redelivering. The lock
// keeper sends InProgress for it until it is settled, and the job's lock is
// released only after its outcomes are out.
func (c *consumer) handle(msg jetstream.Msg) {
	c.metrics.inflight.Inc()
	defer c.metrics.inflight.Dec()
	meta, err := msg.Metadata()
	if err != nil {
		c.Logger().Error("reading request metadata", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	req, job, bad := c.decode(msg, meta)
	if bad != nil {
		c.reject(msg, req, bad)
		return
	}
	ctx, cancel := context.WithCancelCause(c.runCtx)
	defer cancel(nil)
	w := &lease.Work{Msg: msg, Cancel: cancel}
	defer c.keeper.Track(w)()
	seq := meta.Sequence.Stream
	// A first delivery cannot have run before: only a redelivery looks for
	// a kept outcome.
	var earlier record
	if meta.NumDelivered > 1 {
		if rec, ok := c.loadRecord(ctx, seq); ok && rec.Done == nil {
			// It ran before and its outcome was kept, but publishing or
			// settling failed: tell the same outcome again, do not run again.
			c.Logger().Info("request already ran, republishing its outcomes", "job", job.Name, "request_id", req.ID, "attempt", req.Attempt)
			c.deliver(msg, req, seq, rec, true)
			return
		} else if ok {
			// An earlier attempt settled some connectors for good: run the
			// rest only, so each connector gets one final outcome.
			earlier = rec
			req.Connectors = remaining(job, req, rec.Done)
		}
	}
	l, err := c.locker.Acquire(ctx, job.Name, seq)
	if err != nil {
		c.handBack(ctx, msg, job, req, err)
		return
	}
	w.Lease.Store(l)
	defer c.locker.Release(c.runCtx, l)
	in := &intents{s: c.results, seq: seq}
	// The request's time in the stream, which redeliveries keep, is its
	// turn under the Graph budget; the lease bounds its waits there.
	runCtx := jobs.WithTurn(jobs.WithIntents(jobs.WithLease(ctx, l), in), meta.Timestamp)
	outcomes := c.runRotation(runCtx, job, req)
	shutdown := errors.Is(context.Cause(ctx), errShuttingDown)
	rec := conclude(c.instance, c.Now(), job, req, outcomes, c.backoff.Delay, shutdown)
	rec.Intents = in.connectors(earlier.Intents)
	if shutdown && rec.Decision.Action == actNak {
		c.Logger().Info("request handed back on shutdown, keeping what finished", "job", job.Name, "request_id", req.ID, "finished", len(rec.Events))
	}
	keep := rec.kept(earlier)
	// The run's context may be cancelled (shutdown, a lost lock): what
	// finished is kept and published all the same.
	pctx := context.WithoutCancel(c.runCtx)
	if keep != nil {
		if err := c.storeRecord(pctx, seq, *keep); err != nil {
			c.Logger().Warn("keeping the outcome before publishing it, will retry", "job", job.Name, "request_id", req.ID, "error", err)
			c.carryOut(msg, decision{Action: actNak, Delay: c.backoff.Delay(req.Attempt)}, req)
			return
		}
	}
	if !earlier.Published {
		// The earlier attempt kept its final events but could not publish
		// them: they go out now, before this attempt's.
		rec.Events = append(earlier.Events, rec.Events...)
	}
	if err := c.publishEvents(pctx, rec.Events); err != nil {
		c.Logger().Warn("publishing outcomes, will retry", "job", job.Name, "request_id", req.ID, "error", err)
		c.carryOut(msg, decision{Action: actNak, Delay: c.backoff.Delay(req.Attempt)}, req)
		return
	}
	if keep != nil && keep.Done != nil {
		keep.Published = true // a retry publishes only its own events
		if err := c.storeRecord(pctx, seq, *keep); err != nil {
			c.Logger().Debug("marking kept outcomes published", "request_id", req.ID, "error", err)
		}
	}
	if err := c.carryOut(msg, rec.Decision, req); err == nil && keep != nil && keep.Done == nil {
		c.dropRecord(pctx, seq, keep.Intents)
	}
}

// handBack naks a request that did not run: on shutdown at once (another
// replica takes it), when the job stayed locked after a short jittered
// delay, else with backoff.
func (c *consumer) handBack(ctx context.Context, msg jetstream.Msg, job jobs.Job, req jobs.Request, err error) {
	switch {
	case errors.Is(context.Cause(ctx), errShuttingDown), errors.Is(err, errShuttingDown):
		c.Logger().Info("request handed back on shutdown", "job", job.Name, "request_id", req.ID)
		c.carryOut(msg, decision{Action: actNak}, req)
	case errors.Is(err, lease.ErrBusy):
		c.Logger().Info("job still locked elsewhere, retrying later", "job", job.Name, "request_id", req.ID)
		c.carryOut(msg, decision{Action: actNak, Delay: jitter(c.contention)}, req)
	default:
		c.Logger().Warn("taking job lock", "job", job.Name, "request_id", req.ID, "error", err)
		c.carryOut(msg, decision{Action: actNak, Delay: c.backoff.Delay(req.Attempt)}, req)
	}
}

// runRotation runs the rotator under the run timeout and times it.
func (c *consumer) runRotation(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	rctx, cancel := context.WithTimeout(ctx, c.runTimeout)
	defer cancel()
	start := time.Now()
	outcomes := c.rotate(rctx, job, req)
	c.metrics.duration.WithLabelValues(job.Name).Observe(time.Since(start).Seconds())
	return outcomes
}

// deliver publishes a run's events and only then settles the message; a
// kept record is dropped once the message is settled.
func (c *consumer) deliver(msg jetstream.Msg, req jobs.Request, seq uint64, rec record, stored bool) {
	ctx := context.WithoutCancel(c.runCtx)
	if err := c.publishEvents(ctx, rec.Events); err != nil {
		c.Logger().Warn("publishing outcomes, will retry", "job", req.Job, "request_id", req.ID, "error", err)
		c.carryOut(msg, decision{Action: actNak, Delay: c.backoff.Delay(req.Attempt)}, req)
		return
	}
	if err := c.carryOut(msg, rec.Decision, req); err == nil && stored {
		c.dropRecord(ctx, seq, rec.Intents)
	}
}

// jitter spreads a contention delay over [d, 2d), so that replicas that
// met on a lock do not meet again.
func jitter(d time.Duration) time.Duration {
	return d/2 + retry.Spread(d, 0.5, nil)
}

// rotate calls the Rotator, turning a panic or an empty answer into a
// transient internal failure of every connector in play.
func (c *consumer) rotate(ctx context.Context, job jobs.Job, req jobs.Request) (out []jobs.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			// The panic value may hold anything; log its type and the stack
			// (function names and addresses), not its text.
			c.Logger().Error("rotation panicked", "job", job.Name, "request_id", req.ID,
				"panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			out = internalFailure(job, req, "rotation panicked")
		}
	}()
	out = c.rotator.Rotate(ctx, job, req)
	if len(out) == 0 {
		return internalFailure(job, req, "rotation returned no outcome")
	}
	return out
}

// carryOut makes the NATS call a decision asks for and returns its error.
func (c *consumer) carryOut(msg jetstream.Msg, d decision, req jobs.Request) error {
	log := c.Logger().With("job", req.Job, "request_id", req.ID, "attempt", req.Attempt)
	var err error
	switch d.Action {
	case actNak:
		if d.Delay > 0 {
			log.Info("rotation not finished, retrying", "retry_in", d.Delay)
			err = msg.NakWithDelay(d.Delay)
		} else {
			err = msg.Nak()
		}
	case actTerm:
		log.Warn("rotation failed", "code", d.Code)
		err = msg.TermWithReason("failed: " + d.Code)
	default:
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.runCtx), c.opTimeout)
		defer cancel()
		err = msg.DoubleAck(ctx)
		log.Debug("request done")
	}
	if err != nil {
		log.Warn("settling request", "action", d.Action.String(), "error", err)
	}
	c.signals.settled.Signal(d)
	return err
}

// internalFailure is a transient failed outcome for every connector in play.
func internalFailure(job jobs.Job, req jobs.Request, msg string) []jobs.Outcome {
	return failEach(job, req, &jobs.ErrorInfo{Code: contract.CodeInternal, Class: jobs.ClassTransient, Message: msg}, false)
}

// failEach builds one failed outcome per connector in play.
func failEach(job jobs.Job, req jobs.Request, e *jobs.ErrorInfo, final bool) []jobs.Outcome {
	refs := inPlay(job, req)
	out := make([]jobs.Outcome, 0, max(len(refs), 1))
	for _, c := range refs {
		out = append(out, jobs.Outcome{
			Job: job.Name, Tenant: c.Tenant, Connector: c.ID, RequestID: req.ID, Trigger: req.Trigger,
			Status: contract.StatusFailed, Error: e, Attempt: req.Attempt, Final: final, TargetKind: jobs.KindConnector,
		})
	}
	for _, k := range jobs.KeySetsInPlay(job, req) {
		out = append(out, jobs.Outcome{
			Job: job.Name, Tenant: k.Tenant, Connector: k.ID, RequestID: req.ID, Trigger: req.Trigger,
			Status: contract.StatusFailed, Error: e, Attempt: req.Attempt, Final: final, TargetKind: jobs.KindKeySet,
		})
	}
	if len(out) == 0 {
		out = append(out, jobs.Outcome{
			Job: job.Name, RequestID: req.ID, Trigger: req.Trigger,
			Status: contract.StatusFailed, Error: e, Attempt: req.Attempt, Final: final,
		})
	}
	return out
}

// inPlay is the connectors a request runs: those it names, else all.
func inPlay(job jobs.Job, req jobs.Request) []jobs.ConnectorRef {
	if len(req.Connectors) == 0 {
		return job.Connectors
	}
	refs := make([]jobs.ConnectorRef, 0, len(req.Connectors))
	for _, id := range req.Connectors {
		if c, ok := job.Connector(id); ok {
			refs = append(refs, c)
		}
	}
	return refs
}
