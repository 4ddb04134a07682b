package jobs

import (
	"fmt"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Codes of failed verifications (rule 6).
const (
	// CodeVerifyMissing: Graph answered the upload with a certificateList
	// that lacks the uploaded thumbprint.
	CodeVerifyMissing = contract.CodeVerifyMissing
	// CodeVerifyInactive: the uploaded certificate's notBefore is past but
	// Graph does not mark it active.
	CodeVerifyInactive = contract.CodeVerifyInactive
)

// candidate is what decide needs to know about the bundle.
type candidate struct {
	Thumbprint string
	NotBefore  time.Time
	NotAfter   time.Time
}

// decision is decide's answer: skip with a reason, or upload (with the
// reason the upload reports, "" for an ordinary rotation).
type decision struct {
	skip   string // the skip reason; "" means upload
	reason string // the upload's reason, e.g. reactivated
}

// decide applies rotation rules 2 to 4 to a connector's state at now. Force
// overrides every skip: it re-uploads a bundle already present (which makes
// it active again: rollback), an older one, or one not yet due.
//
// Rule 2 converges rather than trusting one look: a listed certificate is
// "present" only when it is active, or staged (its notBefore still ahead,
// when Graph lists it inactive by design). One that is listed, valid now and
// inactive while the active certificate expires earlier was overtaken by an
// older upload (a replica that lost its lock, a person in the portal): it is
// uploaded again, reason reactivated.
func decide(st ConnectorState, c candidate, job Job, force bool, now time.Time) decision {
	if force {
		return decision{}
	}
	active, hasActive := st.Active()
	if got, ok := st.Has(c.Thumbprint); ok {
		staged := c.NotBefore.After(now)
		switch {
		case got.IsActive || staged:
			return decision{skip: contract.ReasonAlreadyPresent}
		case !hasActive || active.NotAfter.Before(c.NotAfter):
			return decision{reason: contract.ReasonReactivated}
		default:
			return decision{skip: contract.ReasonNotNewer}
		}
	}
	active, ok := active, hasActive
	if !ok {
		return decision{} // nothing to compare with, and nothing active is never "not due"
	}
	if !c.NotAfter.After(active.NotAfter) {
		return decision{skip: contract.ReasonNotNewer}
	}
	if job.Policy == PolicyBeforeExpiry && !due(active, job.RenewBefore, now) {
		return decision{skip: contract.ReasonNotDue}
	}
	return decision{}
}

// due reports whether the active certificate expires within the renewal
// window at now.
func due(active Certificate, rb RenewBefore, now time.Time) bool {
	window := rb.Window(active.NotBefore, active.NotAfter)
	return !now.Before(active.NotAfter.Add(-window))
}

// replaceable reports whether the bundle could take over from the active
// certificate, that is whether it expires later (rule 3's test). A bundle
// that cannot leaves the active certificate to expire: rule 8 warns.
func replaceable(c candidate, active Certificate) bool {
	return c.NotAfter.After(active.NotAfter)
}

// verify applies rule 6 to the state Graph answered an upload with: the
// thumbprint must be listed and, unless the bundle is staged (notBefore
// still in the future), active.
//
// A certificate that is listed but inactive fails permanently rather than
// transiently: a retry would find the thumbprint present and skip with
// already_present, hiding the problem, so an operator must look now.
func verify(st ConnectorState, connector, thumbprint string, staged bool) error {
	got, ok := st.Has(thumbprint)
	if !ok {
		return Permanent(CodeVerifyMissing, fmt.Errorf("verifying connector %s: certificate %s is not in the certificateList Graph returned", connector, thumbprint))
	}
	if !staged && !got.IsActive {
		return Permanent(CodeVerifyInactive, fmt.Errorf("verifying connector %s: certificate %s is valid now but Graph does not mark it active", connector, thumbprint))
	}
	return nil
}
