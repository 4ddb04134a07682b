package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Class says whether a failure may go away by retrying (contract.Class).
type Class = contract.Class

// The classes of a Failure.
const (
	ClassTransient = contract.ClassTransient
	ClassPermanent = contract.ClassPermanent
)

// Failure is a classified error. Adapters wrap what they return in one so
// that the pipeline and the worker know whether to retry, how long to wait
// and what code to report. Err's text must hold no secret.
type Failure struct {
	Class      Class
	Code       string        // stable, machine-readable, e.g. "bundle_expired", "TooManyRequests"
	RequestID  string        // the remote's request id, when there is one
	RetryAfter time.Duration // the remote's wish, when there is one
	Err        error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Permanent marks err as not worth retrying.
func Permanent(code string, err error) error {
	return &Failure{Class: ClassPermanent, Code: code, Err: err}
}

// Transient marks err as worth retrying with backoff.
func Transient(code string, err error) error {
	return &Failure{Class: ClassTransient, Code: code, Err: err}
}

// RetryAfter marks err as transient with a wait the remote asked for,
// keeping the code of a Failure inside it.
func RetryAfter(err error, d time.Duration) error {
	f := AsFailure(err)
	return &Failure{Class: ClassTransient, Code: f.Code, RequestID: f.RequestID, RetryAfter: d, Err: err}
}

// AsFailure returns the outermost Failure in err's chain, or a transient
// Failure with code "internal" for an unclassified error. It returns nil for
// a nil error. context.Canceled and DeadlineExceeded are transient with code
// "canceled" / "timeout".
func AsFailure(err error) *Failure {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Failure{Class: ClassTransient, Code: contract.CodeCanceled, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Failure{Class: ClassTransient, Code: contract.CodeTimeout, Err: err}
	}
	return &Failure{Class: ClassTransient, Code: contract.CodeInternal, Err: err}
}
