package contract

import "time"

// The wire types: a request's body, an outcome (the data of an outcome
// event and of a status record) and their codes. They use only the
// standard library, so a program that publishes requests or reads
// outcomes links nothing of the worker's (no PKCS#12, no Vault, no Graph).

// Outcome statuses; each maps to a CloudEvent type (see EventType).
const (
	StatusSucceeded = "succeeded"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
	StatusExpiring  = "expiring"
)

// Skip reasons.
const (
	ReasonAlreadyPresent = "already_present"
	ReasonNotNewer       = "not_newer"
	ReasonNotDue         = "not_due"
	ReasonDryRun         = "dry_run"
	// ReasonReactivated: the bundle's certificate was listed but not
	// active although valid, while the active one expires earlier; it was
	// uploaded again so that it is active (rule 2 converges).
	ReasonReactivated = "reactivated"
	// ReasonRollback marks a succeeded upload of a forced request pinned to
	// a KV version: a rollback by version.
	ReasonRollback = "rollback"
	// ReasonConfirmedOnRetry marks a succeeded upload that an earlier
	// attempt of the same request sent, whose end was unclear (its answer
	// lost, the process killed, its outcome not stored): the retry found the
	// certificate on the connector and the attempt's recorded intent (see
	// Intents).
	ReasonConfirmedOnRetry = "confirmed_on_retry"
)

// CertInfo describes a certificate in an outcome. It never holds key
// material.
type CertInfo struct {
	Thumbprint string `json:"thumbprint"`
	// Kid names a policy key (key set targets only).
	Kid           string    `json:"kid,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	NotBefore     time.Time `json:"not_before,omitzero"`
	NotAfter      time.Time `json:"not_after,omitzero"`
	SourceVersion int       `json:"source_version,omitempty"`
}

// ErrorInfo is the error object of a failed outcome.
type ErrorInfo struct {
	Code      string `json:"code"`
	Class     Class  `json:"class"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// Outcome is the result of one run for one connector: the data of the
// CloudEvent the worker publishes. Connector is empty for a request that
// failed before any connector was in play.
//
// TargetKind says what Connector names: "connector" (an API connector's
// GUID) or "keyset" (a B2C policy key container's id, B2C_1A_…); it is
// empty only when no target was in play.
type Outcome struct {
	Job        string `json:"job"`
	Tenant     string `json:"tenant"`
	Connector  string `json:"connector"`
	TargetKind string `json:"target_kind,omitempty"`
	RequestID  string `json:"request_id"`
	Trigger    string `json:"trigger"`
	// RequestReason and RequestedBy are the request's own reason and
	// requester, carried into every outcome so that the events and the
	// status bucket are an audit trail of who asked for a run and why.
	// The request's "reason" is renamed here because Reason is the skip
	// reason.
	RequestReason string     `json:"request_reason"`
	RequestedBy   string     `json:"requested_by"`
	Status        string     `json:"outcome"`
	Reason        string     `json:"reason"`
	Staged        bool       `json:"staged"`
	Certificate   *CertInfo  `json:"certificate"`
	Previous      *CertInfo  `json:"previous"`
	Error         *ErrorInfo `json:"error"`
	Attempt       int        `json:"attempt"`
	Final         bool       `json:"final"`
	DurationMS    int64      `json:"duration_ms"`
	// DaysLeft and Threshold are set on expiring outcomes only.
	DaysLeft  int    `json:"days_left,omitempty"`
	Threshold string `json:"threshold,omitempty"`
	// NextWindow is when the job's next change window opens, set on a
	// skipped outcome with reason outside_window: the worker requests the
	// job again then.
	NextWindow *time.Time `json:"next_window,omitempty"`

	// RetryAfter is the wait the remote asked for (Graph's Retry-After) on a
	// transient failure, for the worker's NakWithDelay; zero when none. It is
	// not part of the event.
	RetryAfter time.Duration `json:"-"`
}

// CloudEvent types of outcome events: TypeRotationPrefix + the status for
// a rotation's result (succeeded, skipped, failed), one type per warning.
const (
	TypeRotationPrefix      = "certrotator.rotation."
	TypeCertificateExpiring = "certrotator.certificate.expiring"
	TypeAPIUnauthenticated  = "certrotator.api.unauthenticated"
	TypeKeySetSuperseded    = "certrotator.keyset.superseded"
	// TypeCredentialExpiring: one of the worker's own credentials (its
	// Entra client certificate or secret, its Vault AppRole secret id)
	// expires soon; published on CredentialSubject.
	TypeCredentialExpiring = "certrotator.credential.expiring"
)

// EventType returns the CloudEvent type for the outcome's status.
func (o Outcome) EventType() string {
	switch o.Status {
	case StatusExpiring:
		return TypeCertificateExpiring
	case StatusUnauthenticated:
		return TypeAPIUnauthenticated
	case StatusSuperseded:
		return TypeKeySetSuperseded
	}
	return TypeRotationPrefix + o.Status
}

// Warning reports whether the outcome is a warning (expiring,
// unauthenticated) rather than a rotation's result: warnings are not a
// connector's status and never settle a request.
func (o Outcome) Warning() bool {
	return o.Status == StatusExpiring || o.Status == StatusUnauthenticated || o.Status == StatusSuperseded
}

// Retryable reports whether the outcome failed transiently and a later
// attempt may succeed.
func (o Outcome) Retryable() bool {
	return o.Status == StatusFailed && !o.Final && o.Error != nil && o.Error.Class == ClassTransient
}

// More outcome statuses: warnings, each its own CloudEvent type.
const (
	// StatusUnauthenticated is the status of the warning that the API
	// accepted a call with no client certificate at all (event type
	// certrotator.api.unauthenticated): the certificate then protects
	// nothing. It is announced once per connector per day.
	StatusUnauthenticated = "unauthenticated"
	// StatusSuperseded is the warning that a key set's active key is
	// someone else's and activates later than the bundle (CloudEvent type
	// certrotator.keyset.superseded), once per key set per day.
	StatusSuperseded = "superseded"
)

// Window reasons: why an upload outside every change window was skipped or
// went ahead anyway.
const (
	// ReasonOutsideWindow: the upload was due but no change window of the
	// job is open; Outcome.NextWindow says when the next one opens, and the
	// worker requests the job again then.
	ReasonOutsideWindow = "outside_window"
	// ReasonEmergency: outside every window, the upload went ahead because
	// the active certificate expires within the job's emergency_within (or
	// the connector has none active).
	ReasonEmergency = "emergency"
	// ReasonForcedOutsideWindow: outside every window, a forced request (a
	// person's rotate --force or rollback) went ahead.
	ReasonForcedOutsideWindow = "forced_outside_window"
	// ReasonSuperseded: a key set's active key is someone else's and
	// activates later than the bundle, which therefore cannot become
	// active; the outcome's previous names that key (kid) and its expiry.
	ReasonSuperseded = "superseded"
)

// Target kinds of an outcome (Outcome.TargetKind).
const (
	KindConnector = "connector"
	KindKeySet    = "keyset"
)

// Class says whether a failure may go away by retrying.
type Class string

// The two classes of ErrorInfo.Class.
const (
	ClassTransient Class = "transient"
	ClassPermanent Class = "permanent"
)
