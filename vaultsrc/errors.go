package vaultsrc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Failure codes of the errors Fetch and New return, inside a *jobs.Failure.
const (
	// CodeUnavailable: Vault is unreachable, sealed, a standby, rate
	// limiting or answering 5xx. Transient.
	CodeUnavailable = contract.CodeSourceUnavailable
	// CodeDenied: the token may not read the secret, or a login was
	// refused. Permanent.
	CodeDenied = contract.CodeSourceDenied
	// CodeNotFound: no such secret, or its latest version is deleted or
	// destroyed. Permanent.
	CodeNotFound = contract.CodeSourceNotFound
	// CodeFieldMissing: the secret has no (or an empty) PFX field.
	// Permanent.
	CodeFieldMissing = contract.CodeSourceFieldMissing
	// CodeMalformed: a field is not a string or not standard base64.
	// Permanent.
	CodeMalformed = contract.CodeBundleMalformed
	// CodeRejected: Vault refused the request for another reason (a 4xx
	// other than 403 and 404, e.g. a bad path). Permanent.
	CodeRejected = contract.CodeSourceRejected
	// CodeConfig: the Config given to New is unusable (unknown auth
	// method, missing role, unreadable credential file). Permanent.
	CodeConfig = contract.CodeSourceConfig
	// CodeConflict: a check-and-set write lost to another writer (the
	// error wraps ErrCASConflict and jobs.ErrWriteConflict). Transient: a
	// retry reads the new version.
	CodeConflict = contract.CodeSourceConflict
)

// ErrInvalidConfig is wrapped by New's errors about the Config itself.
var ErrInvalidConfig = errors.New("vaultsrc: invalid config")

// Errors of reading one KV version, wrapped (inside a permanent
// jobs.Failure with CodeNotFound) by Fetch. A deleted version can be
// undeleted; a destroyed one is gone for good.
var (
	ErrVersionDeleted   = errors.New("vaultsrc: version deleted")
	ErrVersionDestroyed = errors.New("vaultsrc: version destroyed")
	ErrVersionMissing   = errors.New("vaultsrc: no such version")
)

// ErrCASConflict is wrapped by Write when Vault refused the check-and-set:
// another version was written since the one read. It wraps
// jobs.ErrWriteConflict, so jobs recognises it without importing vaultsrc.
var ErrCASConflict = fmt.Errorf("vaultsrc: check-and-set conflict: %w", jobs.ErrWriteConflict)

// errEmptyFile says a credential file holds nothing but whitespace.
var errEmptyFile = errors.New("vaultsrc: file is empty")

// responseError renders a *api.ResponseError on one line ("vault answered
// 403: permission denied") instead of the client's multi-line text, and
// keeps it reachable with errors.As.
type responseError struct {
	re *api.ResponseError
}

func (e responseError) Error() string {
	msgs := make([]string, 0, len(e.re.Errors))
	for _, m := range e.re.Errors {
		if m = tidy(m); m != "" {
			msgs = append(msgs, m)
		}
	}
	msg := strings.Join(msgs, "; ")
	if msg == "" {
		msg = http.StatusText(e.re.StatusCode)
	}
	return fmt.Sprintf("vault answered %d: %s", e.re.StatusCode, msg)
}

func (e responseError) Unwrap() error { return e.re }

// tidy puts one of Vault's error strings on one line and drops the
// go-multierror dressing ("1 error occurred:\n\t* permission denied\n\n").
func tidy(m string) string {
	words := strings.Fields(m)
	if len(words) >= 3 && (words[1] == "error" || words[1] == "errors") && words[2] == "occurred:" {
		words = words[3:]
	}
	words = slices.DeleteFunc(words, func(w string) bool { return w == "*" })
	return strings.Join(words, " ")
}

// classifyResponse classifies an error Vault answered with; hint is added
// to a 403's message to tell the operator what the policy must allow.
func classifyResponse(doing string, re *api.ResponseError, hint string) error {
	err := responseError{re: re}
	switch code := re.StatusCode; {
	case code == http.StatusForbidden || code == http.StatusUnauthorized:
		if hint != "" {
			return jobs.Permanent(CodeDenied, fmt.Errorf("%s: %w: %s", doing, err, hint))
		}
		return jobs.Permanent(CodeDenied, fmt.Errorf("%s: %w", doing, err))
	case code == http.StatusNotFound:
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w", doing, err))
	case code == http.StatusTooManyRequests || code == http.StatusPreconditionFailed || code >= 500:
		// 503 covers sealed and standby nodes; 412 a performance standby
		// that has not caught up; 429 a rate-limit quota.
		return jobs.Transient(CodeUnavailable, fmt.Errorf("%s: %w", doing, err))
	default:
		return jobs.Permanent(CodeRejected, fmt.Errorf("%s: %w", doing, err))
	}
}

// classify wraps err, returned by the Vault client while doing something,
// in a jobs.Failure. Cancellation is left unclassified so that
// jobs.AsFailure reports it as "canceled" or "timeout"; an untrusted TLS
// certificate is a permanent config problem; any other error without an
// HTTP status (refused, reset, DNS) is transient.
func classify(doing string, err error, hint string) error {
	var (
		re  *api.ResponseError
		cve *tls.CertificateVerificationError
		ue  *url.Error
	)
	switch {
	case errors.As(err, &re):
		return classifyResponse(doing, re, hint)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", doing, err)
	case errors.As(err, &cve):
		return jobs.Permanent(CodeConfig, fmt.Errorf("%s: vault's TLS certificate is not trusted (set the CA certificate): %w", doing, err))
	case errors.As(err, &ue):
		// Skip the Vault client's "error encountered while …" wrapping.
		return jobs.Transient(CodeUnavailable, fmt.Errorf("%s: vault unreachable: %w", doing, ue))
	default:
		return jobs.Transient(CodeUnavailable, fmt.Errorf("%s: vault unreachable: %w", doing, err))
	}
}
