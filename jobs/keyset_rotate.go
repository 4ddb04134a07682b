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

// A key set is rotated by the rules of a connector, with one difference:
// B2C activates a container's key by activation date (nbf), not by upload
// order. Uploading our key cannot make it active over a key with a later
// nbf, so when someone else's such key is active the run reports it
// (skipped, superseded, and a warning) instead of uploading in vain. The
// worker only ever appends keys (uploadPkcs12): it never replaces the
// container's key list.

const (
	// ReasonSuperseded: a key set's active key is someone else's and
	// activates later than the bundle, which therefore cannot become
	// active; the outcome's previous names that key (kid) and its expiry.
	ReasonSuperseded = contract.ReasonSuperseded
	// StatusSuperseded is the warning that goes with it (CloudEvent type
	// certrotator.keyset.superseded), once per key set per day.
	StatusSuperseded = contract.StatusSuperseded
	// CodeKeySetsMissing: a job has keysets but the Rotator has no KeySets.
	CodeKeySetsMissing = contract.CodeKeySetsUnconfigured
	// codeGraphNotFound and codeGraphDenied are Graph's codes for a missing
	// object and a missing permission.
	codeGraphNotFound = "Request_ResourceNotFound"
	codeGraphDenied   = "Authorization_RequestDenied"
)

// selectKeySets returns the job's key sets the request puts in play: all
// of them when it names no target, else those it names (a request's
// connectors may name targets of either kind), each once.
func selectKeySets(job Job, req Request) []KeySetRef {
	var named map[string]bool
	for _, id := range req.Connectors {
		if named == nil {
			named = map[string]bool{}
		}
		named[strings.ToLower(id)] = true
	}
	return inPlay(job.KeySets, func(k KeySetRef) string { return k.ID }, named)
}

// KeySetsInPlay is selectKeySets for the worker, which narrows a retried
// request to the targets not yet done.
func KeySetsInPlay(job Job, req Request) []KeySetRef { return selectKeySets(job, req) }

// keySetResult is a key set's fate: a connector's result plus the key
// B2C had active before the run.
type keySetResult struct {
	result
	activeKey  *PolicyKey
	superseded bool
}

// rotateKeySets runs every key set with the connectors' concurrency and
// panic safety (a KeySetRef is a ConnectorRef by shape).
func (r *Rotator) rotateKeySets(ctx context.Context, rn *run, refs []KeySetRef) []Outcome {
	if len(refs) == 0 {
		return nil
	}
	as := make([]ConnectorRef, len(refs))
	for i, k := range refs {
		as[i] = ConnectorRef(k)
	}
	per := forEach(ctx, r.cfg.Concurrency, r.slots, as,
		func(ctx context.Context, ref ConnectorRef) []Outcome { return r.rotateKeySet(ctx, rn, KeySetRef(ref)) },
		func(ref ConnectorRef, err error) []Outcome {
			o := rn.outcome(ref, result{status: contract.StatusFailed, err: err}, 0)
			o.TargetKind = KindKeySet
			r.logOutcome(ctx, o)
			return []Outcome{o}
		})
	var out []Outcome
	for _, list := range per {
		out = append(out, list...)
	}
	return out
}

// rotateOne's counterpart for a key set: its outcome, then a superseded or
// expiring warning when one is due.
func (r *Rotator) rotateKeySet(ctx context.Context, rn *run, ref KeySetRef) []Outcome {
	start := r.now()
	res := r.attemptKeySet(ctx, rn, ref)
	o := rn.outcome(ConnectorRef(ref), res.result, r.now().Sub(start))
	o.TargetKind = KindKeySet
	if res.activeKey != nil && res.previous == nil {
		o.Previous = keyInfo(*res.activeKey)
	}
	r.logOutcome(ctx, o)
	out := []Outcome{o}
	if res.superseded && res.activeKey != nil {
		if w, ok := r.superseded(ctx, rn, ref, *res.activeKey); ok {
			r.logOutcome(ctx, w)
			out = append(out, w)
		}
	}
	if res.warn && res.active != nil {
		if w, ok := r.expiring(ctx, rn, ConnectorRef(ref), *res.active); ok {
			w.TargetKind = KindKeySet
			if res.activeKey != nil {
				w.Previous, w.Certificate = keyInfo(*res.activeKey), keyInfo(*res.activeKey)
			}
			r.logOutcome(ctx, w)
			out = append(out, w)
		}
	}
	return out
}

// attemptKeySet reads the container and its active key, decides, uploads
// and verifies.
func (r *Rotator) attemptKeySet(ctx context.Context, rn *run, ref KeySetRef) keySetResult {
	fail := func(err error) keySetResult {
		return keySetResult{result: result{status: contract.StatusFailed, err: err}}
	}
	if err := ctx.Err(); err != nil {
		return fail(canceled(ctx, fmt.Errorf("handling key set %s: %w", ref.ID, err)))
	}
	ks := r.cfg.KeySets
	if ks == nil {
		return fail(Permanent(CodeKeySetsMissing, fmt.Errorf("job %s binds key set %s but this worker has no key set client", rn.job.Name, ref.ID)))
	}
	st, active, hasActive, err := readKeySet(ctx, ks, ref)
	var ak *PolicyKey
	if hasActive {
		ak = &active
	}
	act := keyCert(ak)
	if rn.b.err != nil {
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "reading key set for expiry warnings",
				slog.String("job", rn.job.Name), slog.String("keyset", ref.ID), slog.String("error", err.Error()))
		}
		return keySetResult{result: result{status: contract.StatusFailed, err: rn.b.err, active: act, warn: true}, activeKey: ak}
	}
	if err != nil {
		return fail(canceled(ctx, keySetReadError(ref, err)))
	}
	now := r.now()
	c := rn.b.candidate()
	v := decideKeySet(st, active, hasActive, c, rn.job, rn.req.Force, now)
	if v.skip == contract.ReasonAlreadyPresent {
		if in, ok := r.confirmed(ctx, rn, ConnectorRef(ref), c.Thumbprint); ok {
			return keySetResult{result: result{status: contract.StatusSucceeded, reason: contract.ReasonConfirmedOnRetry, staged: rn.b.bundle.Staged(now), previous: in.Previous}}
		}
	}
	switch v.skip {
	case "":
	case ReasonSuperseded:
		return keySetResult{result: result{status: contract.StatusSkipped, reason: ReasonSuperseded, active: act}, activeKey: ak, superseded: true}
	default:
		return keySetResult{result: result{status: contract.StatusSkipped, reason: v.skip, active: act, warn: act != nil && !replaceable(c, *act)}, activeKey: ak}
	}
	g := gate(rn.job, act, rn.req.Force, now)
	if g.skip {
		// Due but outside every change window, as for a connector.
		return keySetResult{result: result{status: contract.StatusSkipped, reason: ReasonOutsideWindow, nextWindow: g.next, active: act, warn: act != nil}, activeKey: ak}
	}
	uctx, cancel, err := uploadContext(ctx)
	if err != nil {
		return keySetResult{result: result{status: contract.StatusFailed, err: fmt.Errorf("uploading to key set %s: %w", ref.ID, err), active: act, warn: true}, activeKey: ak}
	}
	if err := r.recordIntent(uctx, rn, ConnectorRef(ref), c.Thumbprint, act); err != nil {
		cancel()
		return keySetResult{result: result{status: contract.StatusFailed, err: canceled(ctx, err), active: act, warn: true}, activeKey: ak}
	}
	k, err := ks.UploadKey(uctx, ref.Tenant, ref.ID, rn.b.pfx, rn.b.password)
	cancel()
	if err != nil {
		return keySetResult{result: result{status: contract.StatusFailed, err: canceled(ctx, fmt.Errorf("uploading to key set %s: %w", ref.ID, err)), active: act, warn: true}, activeKey: ak}
	}
	staged := rn.b.bundle.Staged(r.now())
	if err := verifyKeySet(ctx, ks, ref, k, c.Thumbprint, staged); err != nil {
		return keySetResult{result: result{status: contract.StatusFailed, err: canceled(ctx, err), active: act, warn: true}, activeKey: ak}
	}
	reason := v.reason
	if rn.req.Force && rn.req.Version > 0 {
		reason = contract.ReasonRollback
	}
	reason = cmp.Or(g.reason, reason) // going ahead outside a window is what the audit must see
	return keySetResult{result: result{status: contract.StatusSucceeded, reason: reason, staged: staged, active: act}, activeKey: ak}
}

// readKeySet reads the container's keys and the key B2C uses now.
func readKeySet(ctx context.Context, ks KeySets, ref KeySetRef) (KeySetState, PolicyKey, bool, error) {
	st, err := ks.GetKeySet(ctx, ref.Tenant, ref.ID)
	if err != nil {
		return KeySetState{}, PolicyKey{}, false, err
	}
	active, ok, err := ks.ActiveKey(ctx, ref.Tenant, ref.ID)
	return st, active, ok, err
}

// keySetReadError adds the fix to the two failures a person must act on.
func keySetReadError(ref KeySetRef, err error) error {
	f := AsFailure(err)
	switch f.Code {
	case codeGraphNotFound:
		return &Failure{Class: ClassPermanent, Code: f.Code, RequestID: f.RequestID, Err: fmt.Errorf(
			"key set %s does not exist in tenant %s: create it in the Azure portal (Identity Experience Framework, Policy keys, Add) or with Graph's POST /beta/trustFramework/keySets; certrotator does not create containers: %w",
			ref.ID, ref.Tenant, err)}
	case codeGraphDenied:
		return &Failure{Class: ClassPermanent, Code: f.Code, RequestID: f.RequestID, Err: fmt.Errorf(
			"reading key set %s of tenant %s: the app lacks the application permission TrustFrameworkKeySet.ReadWrite.All (grant it and admin consent): %w",
			ref.ID, ref.Tenant, err)}
	}
	return fmt.Errorf("reading key set %s: %w", ref.ID, err)
}

// decideKeySet applies the rules to a container. Already present: our key
// is listed and active, or listed and staged (nbf ahead). Superseded: an
// active key of someone else activates later than ours, so ours could not
// take over; force does not change that, since no upload can. Otherwise as
// decide: not newer, not due, or upload (always when no key is active,
// e.g. the active one expired).
func decideKeySet(st KeySetState, active PolicyKey, hasActive bool, c candidate, job Job, force bool, now time.Time) decision {
	ours := hasActive && strings.EqualFold(active.Thumbprint(), c.Thumbprint)
	_, listed := st.Has(c.Thumbprint)
	switch {
	case listed && (ours || c.NotBefore.After(now)):
		return decision{skip: contract.ReasonAlreadyPresent}
	case hasActive && !ours && active.NotBefore.After(c.NotBefore):
		return decision{skip: ReasonSuperseded}
	case force || !hasActive:
		return decision{}
	case listed && (active.NotAfter.IsZero() || !active.NotAfter.Before(c.NotAfter)):
		return decision{skip: contract.ReasonNotNewer}
	case listed:
		// Listed and valid, not active, with an active key of the same
		// activation date uploaded after it: uploading again makes ours
		// the later one.
		return decision{reason: contract.ReasonReactivated}
	case !active.NotAfter.IsZero() && !c.NotAfter.After(active.NotAfter), active.NotAfter.IsZero():
		return decision{skip: contract.ReasonNotNewer}
	case job.Policy == PolicyBeforeExpiry && !due(*keyCert(&active), job.RenewBefore, now):
		return decision{skip: contract.ReasonNotDue}
	}
	return decision{}
}

// verifyKeySet checks an upload with the key Graph answered, the
// container's keys and getActiveKey: ours must be listed and, unless staged,
// active. A failed read is returned as is (a retry finds the key and the
// intent).
func verifyKeySet(ctx context.Context, ks KeySets, ref KeySetRef, got PolicyKey, thumbprint string, staged bool) error {
	if !strings.EqualFold(got.Thumbprint(), thumbprint) {
		return Permanent(CodeVerifyMissing, fmt.Errorf("verifying key set %s: Graph answered the upload with key x5t %q, not certificate %s", ref.ID, got.X5t, thumbprint))
	}
	st, active, hasActive, err := readKeySet(ctx, ks, ref)
	if err != nil {
		return fmt.Errorf("verifying key set %s: %w", ref.ID, err)
	}
	if _, ok := st.Has(thumbprint); !ok {
		return Permanent(CodeVerifyMissing, fmt.Errorf("verifying key set %s: certificate %s is not among the container's keys", ref.ID, thumbprint))
	}
	if !staged && (!hasActive || !strings.EqualFold(active.Thumbprint(), thumbprint)) {
		return Permanent(CodeVerifyInactive, fmt.Errorf("verifying key set %s: certificate %s is valid now but getActiveKey names another key (kid %q)", ref.ID, thumbprint, active.Kid))
	}
	return nil
}

// keyCert is a policy key as the expiry rules see a certificate; nil for
// no key or a key that never expires.
func keyCert(k *PolicyKey) *Certificate {
	if k == nil || k.NotAfter.IsZero() {
		return nil
	}
	return &Certificate{Thumbprint: k.Thumbprint(), NotBefore: k.NotBefore, NotAfter: k.NotAfter, IsActive: true}
}

// keyInfo describes a policy key in an outcome.
func keyInfo(k PolicyKey) *CertInfo {
	return &CertInfo{Thumbprint: k.Thumbprint(), Kid: k.Kid, Subject: k.Subject, NotBefore: k.NotBefore.UTC(), NotAfter: k.NotAfter.UTC()}
}

// superseded returns the warning that a later-activated key of someone
// else is active in the container, once per key set per day (Warnings).
func (r *Rotator) superseded(ctx context.Context, rn *run, ref KeySetRef, active PolicyKey) (Outcome, bool) {
	if !r.firstWarning(ctx, SupersededKey(rn.job.Name, ref.ID, r.now()), "superseded") {
		return Outcome{}, false
	}
	expiry := "never"
	if !active.NotAfter.IsZero() {
		expiry = active.NotAfter.UTC().Format(time.RFC3339)
	}
	o := Outcome{
		Job: rn.job.Name, Tenant: ref.Tenant, Connector: ref.ID, TargetKind: KindKeySet,
		RequestID: rn.req.ID, Trigger: rn.req.Trigger, RequestReason: rn.req.Reason, RequestedBy: rn.req.RequestedBy,
		Status: StatusSuperseded,
		Reason: fmt.Sprintf("key %s, activated %s, is active in key set %s until %s and activates later than the bundle, which therefore cannot become active: not uploaded",
			active.Kid, active.NotBefore.UTC().Format(time.RFC3339), ref.ID, expiry),
		Previous: keyInfo(active),
		Attempt:  rn.req.Attempt, Final: true,
	}
	if rn.b.cert != nil {
		c := *rn.b.cert
		o.Certificate = &c
	}
	return o, true
}

// SupersededKey names one day's superseded warning for Warnings
// (contract.SupersededKey).
func SupersededKey(job, keySet string, now time.Time) string {
	return contract.SupersededKey(job, keySet, now)
}
