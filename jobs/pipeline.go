package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// run is one request for one job, shared read-only by its connectors.
type run struct {
	job   Job
	req   Request
	b     prepared
	lists listing // tenants listed for this run; see listTenants
}

// result is one connector's fate before it becomes an Outcome.
type result struct {
	status string
	reason string
	staged bool
	err    error
	active *Certificate // the connector's active certificate before any upload; nil when none or unknown
	// previous overrides active in the outcome: the certificate an earlier
	// attempt found active before its upload (see Intents).
	previous *CertInfo
	// warn says that no newer bundle replaces the active certificate in
	// this run, so rule 8 applies to it.
	warn bool
	// unauthenticated: the job's probe found the API accepts a call with
	// no client certificate.
	unauthenticated bool
	// nextWindow is the next change window's start of an outside_window skip.
	nextWindow time.Time
}

// rotateOne runs the pipeline for one connector and returns its outcome,
// followed by an expiring warning when rule 8 calls for one.
func (r *Rotator) rotateOne(ctx context.Context, rn *run, ref ConnectorRef) []Outcome {
	start := r.now()
	res := r.attempt(ctx, rn, ref)
	o := rn.outcome(ref, res, r.now().Sub(start))
	r.logOutcome(ctx, o)
	out := []Outcome{o}
	if res.unauthenticated {
		if w, ok := r.unauthenticated(ctx, rn, ref); ok {
			r.logOutcome(ctx, w)
			out = append(out, w)
		}
	}
	if res.warn && res.active != nil {
		if w, ok := r.expiring(ctx, rn, ref, *res.active); ok {
			r.logOutcome(ctx, w)
			out = append(out, w)
		}
	}
	return out
}

// attempt reads the connector, decides, uploads and verifies. With a bundle
// that cannot be uploaded it still reads the connector, only to learn its
// active certificate for rule 8; a failed read is then merely logged.
func (r *Rotator) attempt(ctx context.Context, rn *run, ref ConnectorRef) result {
	if err := ctx.Err(); err != nil {
		return result{status: contract.StatusFailed, err: canceled(ctx, fmt.Errorf("handling connector %s: %w", ref.ID, err))}
	}
	st, fromList := rn.lists.lookup(ref)
	var err error
	if !fromList {
		st, err = r.cfg.Connector.Get(ctx, ref.Tenant, ref.ID)
	}
	if rn.b.err != nil {
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "reading connector for expiry warnings",
				slog.String("job", rn.job.Name), slog.String("connector", ref.ID), slog.String("error", err.Error()))
		}
		return result{status: contract.StatusFailed, err: rn.b.err, active: activeOf(st), warn: true}
	}
	if err != nil {
		return result{status: contract.StatusFailed, err: canceled(ctx, fmt.Errorf("reading connector %s: %w", ref.ID, err))}
	}
	active := activeOf(st)
	c := rn.b.candidate()
	v := decide(st, c, rn.job, rn.req.Force, r.now())
	if v.skip == "" && fromList && !gate(rn.job, active, rn.req.Force, r.now()).skip {
		// The list is a cheap first look; right before an upload the
		// connector is read again, the re-check that keeps a retried or
		// duplicated request from uploading twice. One held back outside
		// its change window uploads nothing and needs no second look.
		if st, err = r.cfg.Connector.Get(ctx, ref.Tenant, ref.ID); err != nil {
			return result{status: contract.StatusFailed, err: canceled(ctx, fmt.Errorf("reading connector %s: %w", ref.ID, err)), active: active}
		}
		active = activeOf(st)
		v = decide(st, c, rn.job, rn.req.Force, r.now())
	}
	if present(st, c, r.now()) {
		if in, ok := r.confirmed(ctx, rn, ref, c.Thumbprint); ok {
			// An earlier attempt of this request sent this upload and its
			// end was unclear: the rotation is this request's.
			return result{status: contract.StatusSucceeded, reason: contract.ReasonConfirmedOnRetry, staged: rn.b.bundle.Staged(r.now()), previous: in.Previous}
		}
	}
	if v.skip != "" {
		return result{status: contract.StatusSkipped, reason: v.skip, active: active, warn: active != nil && !replaceable(c, *active)}
	}
	g := gate(rn.job, active, rn.req.Force, r.now())
	if g.skip {
		// Due but outside every change window: the active certificate stays
		// until the window, so rule 8 still warns about it.
		return result{status: contract.StatusSkipped, reason: ReasonOutsideWindow, nextWindow: g.next, active: active, warn: active != nil}
	}
	pr, ok := r.probeGate(ctx, rn, ref, st, active)
	if !ok {
		return pr
	}
	uctx, cancel, err := uploadContext(ctx)
	if err != nil {
		return result{status: contract.StatusFailed, err: fmt.Errorf("uploading to connector %s: %w", ref.ID, err), active: active, warn: true}
	}
	if err := r.recordIntent(uctx, rn, ref, c.Thumbprint, active); err != nil {
		cancel()
		return result{status: contract.StatusFailed, err: canceled(ctx, err), active: active, warn: true}
	}
	after, err := r.cfg.Connector.Upload(uctx, ref.Tenant, ref.ID, rn.b.pfx, rn.b.password)
	cancel()
	if err != nil {
		return result{status: contract.StatusFailed, err: canceled(ctx, fmt.Errorf("uploading to connector %s: %w", ref.ID, err)), active: active, warn: true}
	}
	staged := rn.b.bundle.Staged(r.now())
	if err := verify(after, ref.ID, c.Thumbprint, staged); err != nil {
		return result{status: contract.StatusFailed, err: err, active: active, warn: true}
	}
	reason := v.reason
	if rn.req.Force && rn.req.Version > 0 {
		reason = contract.ReasonRollback // a forced upload of a pinned version
	}
	reason = cmp.Or(g.reason, reason) // going ahead outside a window is what the audit must see
	return result{status: contract.StatusSucceeded, reason: reason, staged: staged, active: active, unauthenticated: pr.unauthenticated}
}

// canceled reclassifies err as the context's own failure (transient,
// "canceled" or "timeout") when the context is done: an adapter may report
// the cut connection under its own code.
func canceled(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	f := AsFailure(ctx.Err())
	return &Failure{Class: f.Class, Code: f.Code, Err: err}
}

// activeOf returns the state's active certificate, or nil.
func activeOf(st ConnectorState) *Certificate {
	if a, ok := st.Active(); ok {
		return &a
	}
	return nil
}

// activeInfo describes an active certificate in an outcome.
func activeInfo(a *Certificate) *CertInfo {
	if a == nil {
		return nil
	}
	return &CertInfo{Thumbprint: strings.ToUpper(a.Thumbprint), NotAfter: a.NotAfter.UTC()}
}

// outcome turns a connector's result into its Outcome.
func (rn *run) outcome(ref ConnectorRef, res result, d time.Duration) Outcome {
	o := Outcome{
		Job:           rn.job.Name,
		Tenant:        ref.Tenant,
		Connector:     ref.ID,
		TargetKind:    KindConnector,
		RequestID:     rn.req.ID,
		Trigger:       rn.req.Trigger,
		RequestReason: rn.req.Reason,
		RequestedBy:   rn.req.RequestedBy,
		Status:        res.status,
		Reason:        res.reason,
		Staged:        res.staged,
		Previous:      activeInfo(res.active),
		Attempt:       rn.req.Attempt,
		Final:         true,
		DurationMS:    d.Milliseconds(),
	}
	if !res.nextWindow.IsZero() {
		next := res.nextWindow.UTC()
		o.NextWindow = &next
	}
	if res.previous != nil {
		p := *res.previous
		o.Previous = &p
	}
	if rn.b.cert != nil {
		c := *rn.b.cert // each outcome owns its copy
		o.Certificate = &c
	}
	if res.err != nil {
		o.Error = errorInfo(res.err)
		o.RetryAfter = AsFailure(res.err).RetryAfter
		o.Final = o.Error.Class != ClassTransient || o.Attempt >= cmp.Or(rn.job.MaxAttempts, MaxAttemptsDefault)
	}
	return o
}

// logOutcome writes the one line per outcome: info, or warn for a failure.
// It holds identifiers and codes only, never key material, and the audit
// trail: what asked for the run, who and why.
func (r *Rotator) logOutcome(ctx context.Context, o Outcome) {
	attrs := []slog.Attr{
		slog.String("job", o.Job), slog.String("connector", o.Connector),
		slog.String("outcome", o.Status), slog.String("reason", o.Reason),
		slog.String("request_id", o.RequestID), slog.Int("attempt", o.Attempt),
		slog.String("trigger", o.Trigger), slog.String("request_reason", o.RequestReason),
		slog.String("requested_by", o.RequestedBy),
	}
	if o.Certificate != nil {
		attrs = append(attrs, slog.String("thumbprint", o.Certificate.Thumbprint))
	}
	level := slog.LevelInfo
	switch {
	case o.Error != nil:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error_code", o.Error.Code), slog.String("error_class", string(o.Error.Class)),
			slog.Bool("final", o.Final), slog.String("error", o.Error.Message))
		if o.RetryAfter > 0 {
			attrs = append(attrs, slog.Duration("retry_after", o.RetryAfter))
		}
	case o.Status == contract.StatusExpiring:
		attrs = append(attrs, slog.Int("days_left", o.DaysLeft), slog.String("threshold", o.Threshold))
	}
	r.log.LogAttrs(ctx, level, "rotation outcome", attrs...)
}
