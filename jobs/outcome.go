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
