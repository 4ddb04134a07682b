package jobs

import (
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
	readErr := func(err error) error { return keySetReadError(ref, err) }
	if planRead(ctx, &d, rn, now, err, readErr) {
		v := decideKeySet(st, active, hasActive, rn.b.candidate(), rn.job, rn.req.Force, now)
		planAction(&d, rn, v, keyCert(hasActiveKey(active, hasActive)), now)
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
