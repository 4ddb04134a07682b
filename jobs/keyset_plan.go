package jobs

import (
	"cmp"
	"context"
	"fmt"
)

// planKeySets says what Rotate would do for each key set in play, with
// the same reads (the container, its active key) and rules, changing
// nothing. issue is the PKI reason when a new certificate would be issued
// first ("" when none).
func (r *Rotator) planKeySets(ctx context.Context, rn *run, refs []KeySetRef, issue string) []Decision {
	out := make([]Decision, 0, len(refs))
	for _, ref := range refs {
		var d Decision
		if issue != "" {
			d = planFailed(rn, ConnectorRef(ref), nil)
			d.Action, d.Reason = ActionIssue, issue
		} else {
			d = r.planKeySet(ctx, rn, ref)
		}
		d.TargetKind = KindKeySet
		out = append(out, d)
	}
	return out
}

func (r *Rotator) planKeySet(ctx context.Context, rn *run, ref KeySetRef) Decision {
	d := planFailed(rn, ConnectorRef(ref), nil)
	if err := ctx.Err(); err != nil {
		return planFailed(rn, ConnectorRef(ref), canceled(ctx, fmt.Errorf("handling key set %s: %w", ref.ID, err)))
	}
	if r.cfg.KeySets == nil {
		d.Error = errorInfo(Permanent(CodeKeySetsMissing, fmt.Errorf("job %s binds key set %s but this worker has no key set client", rn.job.Name, ref.ID)))
		return d
	}
	st, active, hasActive, err := readKeySet(ctx, r.cfg.KeySets, ref)
	now := r.now()
	if err == nil && hasActive {
		d.Active = keyInfo(active)
		if !active.NotAfter.IsZero() {
			days := daysLeft(active.NotAfter.Sub(now))
			d.ActiveDaysLeft = &days
		}
	}
	if rn.b.bundle != nil {
		d.Staged = rn.b.bundle.Staged(now)
	}
	d.WindowOpen, d.NextWindow = windowFields(rn.job, now)
	switch {
	case rn.b.err != nil:
		d.Error = errorInfo(rn.b.err)
	case err != nil:
		d.Error = errorInfo(canceled(ctx, keySetReadError(ref, err)))
	default:
		c := candidate{Thumbprint: rn.b.thumbprint(), NotBefore: rn.b.cert.NotBefore, NotAfter: rn.b.cert.NotAfter}
		v := decideKeySet(st, active, hasActive, c, rn.job, rn.req.Force, now)
		d.Reason = cmp.Or(v.skip, v.reason)
		d.Action = ActionUpload
		if v.skip != "" {
			d.Action = ActionSkip
		} else if g := gate(rn.job, keyCert(hasActiveKey(active, hasActive)), rn.req.Force, now); g.skip {
			d.Action, d.Reason = ActionSkip, ReasonOutsideWindow
		} else {
			d.Reason = cmp.Or(g.reason, d.Reason)
		}
	}
	return d
}

// hasActiveKey is active as a pointer, nil when there is none.
func hasActiveKey(active PolicyKey, ok bool) *PolicyKey {
	if !ok {
		return nil
	}
	return &active
}
