package contract

import (
	"time"
)

// StatusRecord is the value stored under a status key: the latest
// outcome's data (its JSON fields at the top level, as before), plus what
// the worker carries over from earlier outcomes, because a later skipped or
// failed run must not erase when the certificate was last uploaded or which
// certificate is active. Readers that decode a Outcome from the value
// keep working: they ignore the extra fields.
type StatusRecord struct {
	Outcome
	// Active is the certificate active on the connector as last known: from
	// this outcome when it says, else carried over. Nil until one is known.
	Active *CertInfo `json:"active,omitempty"`
	// LastSuccess is the latest succeeded upload, carried over by later
	// outcomes. Nil until one succeeded.
	LastSuccess *LastSuccess `json:"last_success,omitempty"`
}

// LastSuccess is one succeeded upload to a connector.
type LastSuccess struct {
	At          time.Time `json:"at"`
	RequestID   string    `json:"request_id,omitempty"`
	Trigger     string    `json:"trigger,omitempty"`
	Certificate *CertInfo `json:"certificate,omitempty"`
}

// NextStatus is the record to store for outcome o at now, given the
// connector's previous record (nil when none): it keeps the previous active
// certificate and last success unless o replaces them.
func NextStatus(prev *StatusRecord, o Outcome, now time.Time) StatusRecord {
	rec := StatusRecord{Outcome: o}
	if prev != nil {
		rec.Active, rec.LastSuccess = prev.Active, prev.LastSuccess
	}
	if c := ActiveAfter(o); c != nil {
		rec.Active = c
	}
	if o.Status == StatusSucceeded {
		rec.LastSuccess = &LastSuccess{At: now.UTC(), RequestID: o.RequestID, Trigger: o.Trigger, Certificate: o.Certificate}
	}
	return rec
}

// ReadsPrevious reports whether NextStatus needs the previous record for
// o: not when o replaces both what it carries over (a success that says
// which certificate is active), so that a rotation's status is written
// without reading the former one first.
func ReadsPrevious(o Outcome) bool {
	return o.Status != StatusSucceeded || ActiveAfter(o) == nil
}

// ActiveAfter is the certificate active on the connector after the run the
// outcome reports: the uploaded one when it became active, otherwise the one
// it had. Nil when the outcome does not say (a failure before the connector
// was read).
func ActiveAfter(o Outcome) *CertInfo {
	switch {
	case o.Status == StatusSucceeded && !o.Staged:
		return o.Certificate
	case o.Previous != nil:
		return o.Previous
	case o.Status == StatusSkipped && o.Reason == ReasonAlreadyPresent:
		return o.Certificate
	}
	return nil
}
