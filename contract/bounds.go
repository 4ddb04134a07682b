package contract

import (
	"unicode/utf8"
)

// Bounds of the wire. A request is anyone's input and its text is copied
// into every outcome of its run, which the worker keeps (one record for
// all its connectors) and publishes: these bounds keep each of those far
// under the server's max payload (1 MB by default).
const (
	// RequestMaxBytes is the requests stream's max_msg_size: a larger
	// request is refused at publish, with an error to its publisher.
	RequestMaxBytes = 256 << 10
	// Bounds, in bytes, of a request's fields.
	RequestMaxJob         = 128
	RequestMaxConnector   = 256
	RequestMaxTrigger     = 64
	RequestMaxReason      = 512
	RequestMaxRequestedBy = 256
	// OutcomeMaxText bounds every other free-text field of an outcome (an
	// error's message, code and remote request id, a reason, a
	// certificate's subject), whoever wrote it: a remote's error text too.
	OutcomeMaxText = 1024
)

// BoundOutcome cuts every free-text field of o to its bound, on a rune
// boundary and marked with "…". NewEvent applies it, so that an event, a
// status record and a run's kept record are bounded whatever a publisher
// or a remote wrote. It leaves ids that come from the config alone.
func BoundOutcome(o Outcome) Outcome {
	o.Trigger = clip(o.Trigger, RequestMaxTrigger)
	o.RequestReason = clip(o.RequestReason, RequestMaxReason)
	o.RequestedBy = clip(o.RequestedBy, RequestMaxRequestedBy)
	o.RequestID = clip(o.RequestID, OutcomeMaxText)
	o.Reason = clip(o.Reason, OutcomeMaxText)
	if o.Error != nil {
		e := *o.Error
		e.Code, e.Message, e.RequestID = clip(e.Code, OutcomeMaxText), clip(e.Message, OutcomeMaxText), clip(e.RequestID, OutcomeMaxText)
		o.Error = &e
	}
	for _, c := range []**CertInfo{&o.Certificate, &o.Previous} {
		if *c != nil && len((*c).Subject) > OutcomeMaxText {
			ci := **c
			ci.Subject = clip(ci.Subject, OutcomeMaxText)
			*c = &ci
		}
	}
	return o
}

// clip cuts s to at most n bytes on a rune boundary, the cut marked with
// "…" (within the n bytes).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
