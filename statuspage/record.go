package worker

import (
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// statusBrief is what the view keeps of one status record: only the fields
// the status page and the gauges show, decoded once. A fleet of 10,000
// connectors holds one per connector, so it keeps no stored JSON, no
// certificate subjects and no copies of the same certificate under
// several names (the record's outcome, previous, active and last-success
// certificates are often one), which the full contract.StatusRecord did.
type statusBrief struct {
	Job, Connector, RequestID, Trigger string
	TargetKind                         string // connector (or "") or keyset
	Status, Reason                     string
	Final                              bool
	RequestedBy, RequestReason         string
	ErrorCode, ErrorMessage            string
	// Active is the certificate active on the connector (activeOf); its
	// zero value means none is known.
	Active certBrief
	// LastSuccessAt is the latest succeeded upload (zero when none), of
	// LastSuccessCert (zero when the record does not say).
	LastSuccessAt   time.Time
	LastSuccessCert certBrief
	// Version is the bundle's version as the outcome's run read it; 0 when
	// the outcome names none.
	Version int
}

// certBrief is what the page and the gauges show of a certificate.
type certBrief struct {
	Thumbprint    string
	NotAfter      time.Time
	SourceVersion int
}

// known reports whether c names a certificate.
func (c certBrief) known() bool { return c != certBrief{} }

func certBriefOf(c *jobs.CertInfo) certBrief {
	if c == nil {
		return certBrief{}
	}
	return certBrief{Thumbprint: c.Thumbprint, NotAfter: c.NotAfter, SourceVersion: c.SourceVersion}
}

// briefOf keeps what the view needs of rec.
func briefOf(rec contract.StatusRecord) statusBrief {
	o := rec.Outcome
	b := statusBrief{Job: o.Job, Connector: o.Connector, RequestID: o.RequestID, Trigger: o.Trigger, TargetKind: o.TargetKind,
		Status: o.Status, Reason: o.Reason, Final: o.Final, RequestedBy: o.RequestedBy, RequestReason: o.RequestReason,
		Active: certBriefOf(activeOf(rec))}
	if o.Error != nil {
		b.ErrorCode, b.ErrorMessage = o.Error.Code, o.Error.Message
	}
	if ls := rec.LastSuccess; ls != nil {
		b.LastSuccessAt, b.LastSuccessCert = ls.At, certBriefOf(ls.Certificate)
	}
	if o.Certificate != nil {
		b.Version = o.Certificate.SourceVersion
	}
	return b
}
