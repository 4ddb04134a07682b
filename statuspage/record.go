package statuspage

import (
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Entry is one key of the status bucket as a Source holds it: its record
// in brief, and when the key was last written.
type Entry struct {
	Key     string
	Record  Record
	Updated time.Time
}

// Record is what a Source keeps of one status record: only the fields the
// status page and the worker's gauges show, decoded once. A fleet of 10,000
// connectors holds one per connector, so it keeps no stored JSON, no
// certificate subjects and no copies of the same certificate under
// several names (the record's outcome, previous, active and last-success
// certificates are often one), which the full contract.StatusRecord did.
type Record struct {
	Job, Connector, RequestID, Trigger string
	TargetKind                         string // connector (or "") or keyset
	Status, Reason                     string
	Final                              bool
	RequestedBy, RequestReason         string
	ErrorCode, ErrorMessage            string
	// Active is the certificate active on the connector (activeOf); its
	// zero value means none is known.
	Active Cert
	// LastSuccessAt is the latest succeeded upload (zero when none), of
	// LastSuccessCert (zero when the record does not say).
	LastSuccessAt   time.Time
	LastSuccessCert Cert
	// Version is the bundle's version as the outcome's run read it; 0 when
	// the outcome names none.
	Version int
}

// Cert is what the page and the gauges show of a certificate.
type Cert struct {
	Thumbprint    string
	NotAfter      time.Time
	SourceVersion int
}

// Known reports whether c names a certificate.
func (c Cert) Known() bool { return c != Cert{} }

func certOf(c *jobs.CertInfo) Cert {
	if c == nil {
		return Cert{}
	}
	return Cert{Thumbprint: c.Thumbprint, NotAfter: c.NotAfter, SourceVersion: c.SourceVersion}
}

// RecordOf keeps what the page and the gauges need of rec.
func RecordOf(rec contract.StatusRecord) Record {
	o := rec.Outcome
	b := Record{Job: o.Job, Connector: o.Connector, RequestID: o.RequestID, Trigger: o.Trigger, TargetKind: o.TargetKind,
		Status: o.Status, Reason: o.Reason, Final: o.Final, RequestedBy: o.RequestedBy, RequestReason: o.RequestReason,
		Active: certOf(activeOf(rec))}
	if o.Error != nil {
		b.ErrorCode, b.ErrorMessage = o.Error.Code, o.Error.Message
	}
	if ls := rec.LastSuccess; ls != nil {
		b.LastSuccessAt, b.LastSuccessCert = ls.At, certOf(ls.Certificate)
	}
	if o.Certificate != nil {
		b.Version = o.Certificate.SourceVersion
	}
	return b
}

// activeOf is the record's active certificate; records written before the
// field existed say it only through their outcome.
func activeOf(rec contract.StatusRecord) *jobs.CertInfo {
	if rec.Active != nil {
		return rec.Active
	}
	return contract.ActiveAfter(rec.Outcome)
}

// targetToken is the record's target as its status key names it: the
// connector, keyset-<id> for a key set, _ for none.
func (r Record) targetToken() string {
	return contract.TargetToken(jobs.Outcome{Connector: r.Connector, TargetKind: r.TargetKind})
}
