package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// handle runs one request message to its end: decode, lock, rotate,
// publish, settle. Every path acks, naks or terminates the message, except
// a failed ack, which JetStream answers by redelivering.
func (w *Worker) handle(msg jetstream.Msg) {
	w.metrics.inflight.Inc()
	defer w.metrics.inflight.Dec()
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("reading request metadata", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	req, job, bad := w.decode(msg, meta)
	if bad != nil {
		w.reject(msg, req, bad)
		return
	}
	ctx, cancel := context.WithCancelCause(w.runCtx)
	defer cancel(nil)
	var held atomic.Pointer[lease]
	stopBeat := w.heartbeat(ctx, msg, &held, cancel)
	outcomes, err := w.runLocked(ctx, job, req, meta.Sequence.Stream, &held)
	stopBeat()
	switch {
	case errors.Is(context.Cause(ctx), errShuttingDown):
		// Handed back untouched: another replica (or this one after a
		// restart) runs it again.
		w.log.Info("request handed back on shutdown", "job", job.Name, "request_id", req.ID)
		_ = msg.Nak()
	case errors.Is(err, errLockBusy):
		w.log.Info("job still locked elsewhere, retrying later", "job", job.Name, "request_id", req.ID)
		_ = msg.NakWithDelay(jitter(w.tune.contention, 0.5) + w.tune.contention/2)
	case err != nil:
		w.log.Warn("taking job lock", "job", job.Name, "request_id", req.ID, "error", err)
		_ = msg.NakWithDelay(w.backoff(req.Attempt))
	default:
		w.finish(msg, job, req, outcomes)
	}
}

// runLocked takes the job's lock, rotates and releases the lock.
func (w *Worker) runLocked(ctx context.Context, job jobs.Job, req jobs.Request, seq uint64, held *atomic.Pointer[lease]) ([]jobs.Outcome, error) {
	ls, err := w.acquire(ctx, job.Name, seq)
	if err != nil {
		return nil, err
	}
	held.Store(ls)
	defer func() {
		held.Store(nil)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.tune.opTimeout)
		defer cancel()
		if err := ls.release(rctx); err != nil {
			w.log.Debug("releasing job lock", "job", job.Name, "error", err)
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, w.tune.runTimeout)
	defer cancel()
	start := time.Now()
	outcomes := w.rotate(rctx, job, req)
	w.metrics.duration.WithLabelValues(job.Name).Observe(time.Since(start).Seconds())
	return outcomes, nil
}

// rotate calls the Rotator, turning a panic or an empty answer into a
// transient internal failure of every connector in play.
func (w *Worker) rotate(ctx context.Context, job jobs.Job, req jobs.Request) (out []jobs.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			// The panic value may hold anything; log its type and the stack
			// (function names and addresses), not its text.
			w.log.Error("rotation panicked", "job", job.Name, "request_id", req.ID,
				"panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			out = internalFailure(job, req, "rotation panicked")
		}
	}()
	out = w.cfg.Rotator.Rotate(ctx, job, req)
	if len(out) == 0 {
		return internalFailure(job, req, "rotation returned no outcome")
	}
	return out
}

// internalFailure is a transient failed outcome for every connector in play.
func internalFailure(job jobs.Job, req jobs.Request, msg string) []jobs.Outcome {
	return failEach(job, req, &jobs.ErrorInfo{Code: "internal", Class: jobs.ClassTransient, Message: msg}, false)
}

// failEach builds one failed outcome per connector in play.
func failEach(job jobs.Job, req jobs.Request, e *jobs.ErrorInfo, final bool) []jobs.Outcome {
	refs := inPlay(job, req)
	out := make([]jobs.Outcome, 0, max(len(refs), 1))
	for _, c := range refs {
		out = append(out, jobs.Outcome{
			Job: job.Name, Tenant: c.Tenant, Connector: c.ID, RequestID: req.ID, Trigger: req.Trigger,
			Status: jobs.StatusFailed, Error: e, Attempt: req.Attempt, Final: final,
		})
	}
	if len(out) == 0 {
		out = append(out, jobs.Outcome{
			Job: job.Name, RequestID: req.ID, Trigger: req.Trigger,
			Status: jobs.StatusFailed, Error: e, Attempt: req.Attempt, Final: final,
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

// finish stamps the outcomes, publishes them, and only then settles the
// message.
func (w *Worker) finish(msg jetstream.Msg, job jobs.Job, req jobs.Request, outcomes []jobs.Outcome) {
	finalize(outcomes, job, req)
	ctx := context.WithoutCancel(w.runCtx)
	if err := w.publishAll(ctx, outcomes); err != nil {
		w.log.Warn("publishing outcomes, will retry", "job", job.Name, "request_id", req.ID, "error", err)
		_ = msg.NakWithDelay(w.backoff(req.Attempt))
		return
	}
	w.settle(ctx, msg, job, req, outcomes)
}

// finalize fills what the worker knows and marks every outcome that will
// not be retried as final: the last attempt turns a transient failure
// final.
func finalize(outcomes []jobs.Outcome, job jobs.Job, req jobs.Request) {
	last := req.Attempt >= maxAttempts(job)
	for i := range outcomes {
		o := &outcomes[i]
		o.Job = cmp.Or(o.Job, job.Name)
		o.RequestID = cmp.Or(o.RequestID, req.ID)
		o.Trigger = cmp.Or(o.Trigger, req.Trigger)
		if o.Attempt == 0 {
			o.Attempt = req.Attempt
		}
		if !o.Retryable() || last {
			o.Final = true
		}
	}
}

// settle maps the outcomes to an ack (R7): a retryable failure naks with
// backoff (or the longest Retry-After, when longer), a final failure
// terminates, anything else is acked.
func (w *Worker) settle(ctx context.Context, msg jetstream.Msg, job jobs.Job, req jobs.Request, outcomes []jobs.Outcome) {
	var retry, failed bool
	var wait time.Duration // the longest Retry-After a remote asked for
	code := ""
	for _, o := range outcomes {
		switch {
		case o.Retryable():
			retry = true
			wait = max(wait, o.RetryAfter)
		case o.Status == jobs.StatusFailed && code == "":
			failed = true
			if o.Error != nil {
				code = o.Error.Code
			}
		}
	}
	log := w.log.With("job", job.Name, "request_id", req.ID, "attempt", req.Attempt)
	switch {
	case retry:
		d := max(w.backoff(req.Attempt), wait)
		log.Info("rotation failed transiently, retrying", "retry_in", d)
		_ = msg.NakWithDelay(d)
	case failed:
		log.Warn("rotation failed", "code", code)
		if err := msg.TermWithReason("failed: " + code); err != nil {
			log.Warn("terminating request", "error", err)
		}
	default:
		actx, cancel := context.WithTimeout(ctx, w.tune.opTimeout)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			log.Warn("acking request", "error", err)
			return
		}
		log.Debug("request done")
	}
}

// backoff is the nak delay after attempt failed transiently.
func (w *Worker) backoff(attempt int) time.Duration {
	return backoff(attempt, w.tune.backoffBase, w.tune.backoffMax)
}
