package jobs

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Plan actions.
const (
	ActionUpload = "upload"
	ActionSkip   = "skip"
	ActionFail   = "fail"
	// ActionIssue: the job issues its certificate from Vault PKI and a new
	// one is due; Reason says why (a Due… constant). The run would then
	// upload the new version.
	ActionIssue = "issue"
)

// Decision is what a rotation would do for one connector; Plan returns them.
type Decision struct {
	Job            string     `json:"job"`
	Tenant         string     `json:"tenant"`
	Connector      string     `json:"connector"`
	TargetKind     string     `json:"target_kind,omitempty"` // "keyset" for a key set (Connector holds its id); "" for a connector
	Active         *CertInfo  `json:"active"`                // the connector's active certificate, nil when none
	ActiveDaysLeft *int       `json:"active_days_left"`      // days until Active expires
	Bundle         *CertInfo  `json:"bundle"`                // nil when the bundle could not be read or decoded
	Action         string     `json:"action"`                // "upload", "skip" or "fail"
	Reason         string     `json:"reason"`                // skip reason, or "" for upload
	Staged         bool       `json:"staged"`                // the bundle's notBefore is still in the future
	Error          *ErrorInfo `json:"error"`
	Probe          *ProbeInfo `json:"probe,omitempty"` // the job's probe verdict; nil for a job without probe
	// NextWindow is when the job's next change window opens; nil for a job
	// with no windows. WindowOpen says whether one is open now.
	NextWindow *time.Time `json:"next_window,omitempty"`
	WindowOpen bool       `json:"window_open,omitempty"`
}

// Plan reads the bundle and every connector in play and says what Rotate
// would do, changing nothing: no upload, no warning. It makes the same reads
// as Rotate (the bundle once, each connector once) and applies the same
// rules. A request naming a connector the job does not bind yields a single
// failed Decision with code bad_request and an empty connector.
func (r *Rotator) Plan(ctx context.Context, job Job, req Request) []Decision {
	req = normalize(req)
	refs, err := selectConnectors(job, req)
	if err != nil {
		o := BadRequest(job.Name, req, err)
		return []Decision{{Job: job.Name, Action: ActionFail, Error: o.Error}}
	}
	rn := &run{job: job, req: req}
	var issue IssueResult
	rn.b, issue = r.prepareRun(ctx, job, req, true)
	keySets := selectKeySets(job, req)
	if issue.Reason != "" { // the current bundle may be missing or unreadable: that is why
		return append(planIssue(rn, refs, issue.Reason), r.planKeySets(ctx, rn, keySets, issue.Reason)...)
	}
	out := forEach(ctx, r.cfg.Concurrency, r.slots, refs,
		func(ctx context.Context, ref ConnectorRef) Decision { return r.planOne(ctx, rn, ref) },
		func(ref ConnectorRef, err error) Decision { return planFailed(rn, ref, err) })
	return append(out, r.planKeySets(ctx, rn, keySets, "")...)
}

// planOne reads one connector and decides.
func (r *Rotator) planOne(ctx context.Context, rn *run, ref ConnectorRef) Decision {
	d := planFailed(rn, ref, nil)
	if err := ctx.Err(); err != nil {
		return planFailed(rn, ref, canceled(ctx, fmt.Errorf("handling connector %s: %w", ref.ID, err)))
	}
	st, getErr := r.cfg.Connector.Get(ctx, ref.Tenant, ref.ID)
	now := r.now()
	if a := activeOf(st); getErr == nil && a != nil {
		d.Active = activeInfo(a)
		days := daysLeft(a.NotAfter.Sub(now))
		d.ActiveDaysLeft = &days
	}
	readErr := func(err error) error { return fmt.Errorf("reading connector %s: %w", ref.ID, err) }
	if planRead(ctx, &d, rn, now, getErr, readErr) {
		v := decide(st, rn.b.candidate(), rn.job, rn.req.Force, now)
		planAction(&d, rn, v, activeOf(st), now)
		r.planProbe(ctx, rn, st, &d)
	}
	return d
}

// planRead fills in what a Decision tells of the bundle and the job alone,
// the same for a connector and a key set (the staged validity and the
// rotation window), then the first failure by the same rule: the bundle's
// error, else the target's read error err as wrap words it. ok is true
// when neither failed and the caller decides.
func planRead(ctx context.Context, d *Decision, rn *run, now time.Time, err error, wrap func(error) error) (ok bool) {
	if rn.b.bundle != nil {
		d.Staged = rn.b.bundle.Staged(now)
	}
	d.WindowOpen, d.NextWindow = windowFields(rn.job, now)
	switch {
	case rn.b.err != nil:
		d.Error = errorInfo(rn.b.err)
	case err != nil:
		d.Error = errorInfo(canceled(ctx, wrap(err)))
	default:
		return true
	}
	return false
}

// planAction sets d's Action and Reason as a run would act, the same rule
// for a connector and a key set: skip when the verdict v skips, skip when
// the rotation window is shut (active is what the target holds now, nil
// for nothing), upload otherwise with the reason the verdict or the window
// gives.
func planAction(d *Decision, rn *run, v decision, active *Certificate, now time.Time) {
	d.Reason = cmp.Or(v.skip, v.reason)
	d.Action = ActionUpload
	if v.skip != "" {
		d.Action = ActionSkip
	} else if g := gate(rn.job, active, rn.req.Force, now); g.skip {
		d.Action, d.Reason = ActionSkip, ReasonOutsideWindow
	} else {
		d.Reason = cmp.Or(g.reason, d.Reason)
	}
}

// planFailed returns a connector's Decision with the bundle filled in, failed
// with err (Action "fail" even when err is nil, until the caller decides).
func planFailed(rn *run, ref ConnectorRef, err error) Decision {
	d := Decision{Job: rn.job.Name, Tenant: ref.Tenant, Connector: ref.ID, Action: ActionFail, Error: errorInfo(err)}
	if rn.b.cert != nil {
		c := *rn.b.cert
		d.Bundle = &c
	}
	return d
}

// errorInfo describes a classified error, or returns nil for nil.
func errorInfo(err error) *ErrorInfo {
	if err == nil {
		return nil
	}
	f := AsFailure(err)
	return &ErrorInfo{Code: cmp.Or(f.Code, contract.CodeInternal), Class: cmp.Or(f.Class, ClassTransient), Message: err.Error(), RequestID: f.RequestID}
}

// planIssue says, for every connector in play, that the run would issue a
// new certificate (and then upload it), without issuing.
func planIssue(rn *run, refs []ConnectorRef, reason string) []Decision {
	out := make([]Decision, len(refs))
	for i, ref := range refs {
		out[i] = planFailed(rn, ref, nil)
		out[i].Action, out[i].Reason = ActionIssue, reason
	}
	return out
}

// windowFields describes the job's change windows at now for a Decision:
// whether one is open and when the next opens (nil when the job has none).
func windowFields(job Job, now time.Time) (bool, *time.Time) {
	if len(job.Windows) == 0 {
		return false, nil
	}
	st := job.WindowAt(now)
	if st.Next.IsZero() {
		return st.Open, nil
	}
	next := st.Next.UTC()
	return st.Open, &next
}
