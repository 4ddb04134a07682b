package contract

import "cmp"

// Triggers name what asked for a rotation.
const (
	TriggerEvent  = "event"
	TriggerCron   = "cron"
	TriggerManual = "manual"
	// TriggerWatch: the worker saw a new KV version of a job that sets
	// watch; the request is pinned to that version.
	TriggerWatch = "watch"
	// TriggerWindow: a change window of the job opened (see Job.Windows).
	TriggerWindow = "window"
)

// Request asks for one run of a job. It is the JSON body of a message on
// <prefix>.request.<job>; unknown fields are rejected when decoding.
type Request struct {
	Job         string   `json:"job"`
	Connectors  []string `json:"connectors,omitempty"`
	Force       bool     `json:"force,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	RequestedBy string   `json:"requested_by,omitempty"`
	Trigger     string   `json:"trigger,omitempty"`
	// Version pins the KV version to roll out; 0 (absent) means the latest.
	// With Force it is a rollback: the outcome's reason says "rollback".
	Version int `json:"version,omitempty"`

	// ID identifies the request in outcomes (the Nats-Msg-Id, or a generated
	// id for local runs). Not part of the body.
	ID string `json:"-"`
	// Attempt is the 1-based delivery count. Not part of the body.
	Attempt int `json:"-"`
}

// Stamp copies the request's audit fields (trigger, reason, requester) into
// o where o has none, so that every outcome, whoever builds it, says what
// asked for the run, who, and why.
func (req Request) Stamp(o *Outcome) {
	o.Trigger = cmp.Or(o.Trigger, req.Trigger)
	o.RequestReason = cmp.Or(o.RequestReason, req.Reason)
	o.RequestedBy = cmp.Or(o.RequestedBy, req.RequestedBy)
}
