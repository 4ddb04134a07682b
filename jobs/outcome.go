package jobs

import "github.com/certrotator/certrotator/contract"

// The wire types and their codes live in package contract, which the
// programs that only publish requests or read outcomes import without
// linking this package; these names keep the pipeline's code short.
type (
	// Outcome is contract.Outcome: the result of one run for one target.
	Outcome = contract.Outcome
	// CertInfo is contract.CertInfo.
	CertInfo = contract.CertInfo
	// ErrorInfo is contract.ErrorInfo.
	ErrorInfo = contract.ErrorInfo
	// Request is contract.Request: one run of a job asked for.
	Request = contract.Request
)

// Outcome statuses (contract).
const (
	StatusSucceeded = contract.StatusSucceeded
	StatusSkipped   = contract.StatusSkipped
	StatusFailed    = contract.StatusFailed
	StatusExpiring  = contract.StatusExpiring
)

// Skip and success reasons (contract).
const (
	ReasonAlreadyPresent   = contract.ReasonAlreadyPresent
	ReasonNotNewer         = contract.ReasonNotNewer
	ReasonNotDue           = contract.ReasonNotDue
	ReasonDryRun           = contract.ReasonDryRun
	ReasonReactivated      = contract.ReasonReactivated
	ReasonRollback         = contract.ReasonRollback
	ReasonConfirmedOnRetry = contract.ReasonConfirmedOnRetry
)

// CodeBadRequest is contract.CodeBadRequest.
const CodeBadRequest = contract.CodeBadRequest

// Triggers (contract).
const (
	TriggerEvent  = contract.TriggerEvent
	TriggerCron   = contract.TriggerCron
	TriggerManual = contract.TriggerManual
	TriggerWatch  = contract.TriggerWatch
	TriggerWindow = contract.TriggerWindow
)
