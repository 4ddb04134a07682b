package connector

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certrotator/certrotator/contract"
)

// Sentinels for errors.Is on what Get and Upload return. Each matches a
// GraphError whose error code (or any code nested in its innerError) is the
// sentinel's Code, compared case-insensitively.
var (
	// ErrNotFound: the connector (or the tenant's apiConnectors) does not exist.
	ErrNotFound = &GraphError{Code: "Request_ResourceNotFound"}
	// ErrThrottled: Graph answered 429.
	ErrThrottled = &GraphError{Code: "TooManyRequests"}
	// ErrConcurrencyViolation: another write to the same directory object won.
	ErrConcurrencyViolation = &GraphError{Code: "Directory_ConcurrencyViolation"}
	// ErrInvalidToken: Graph refused the bearer token.
	ErrInvalidToken = &GraphError{Code: "InvalidAuthenticationToken"}
	// ErrDenied: the app lacks APIConnectors.ReadWrite.All or admin consent.
	ErrDenied = &GraphError{Code: "Authorization_RequestDenied"}
)

// Codes of failures the client makes itself (not Graph's), as found in
// jobs.Failure.Code.
const (
	CodeInvalidConnectorID = contract.CodeInvalidConnectorID // the id is not a GUID
	CodeUnknownTenant      = contract.CodeUnknownTenant      // no Tenant under that key
	CodeNetwork            = contract.CodeNetwork            // no HTTP answer from Graph
	CodeInvalidResponse    = contract.CodeInvalidResponse    // a 2xx whose body is not a connector
	CodeTokenUnavailable   = contract.CodeTokenUnavailable   // no answer from the token endpoint
	CodeBudget             = contract.CodeGraphBudget        // the tenant's rate budget has no room before the deadline
	CodeInvalidNextLink    = contract.CodeInvalidNextLink    // a nextLink off the tenant's Graph root
)

// messageMax bounds the length of a message copied from a remote answer.
const messageMax = 512

// GraphError is an error answer from Microsoft Graph. It never holds a
// token, PFX or password: messages are redacted of the values the call sent.
type GraphError struct {
	Status          int           // HTTP status
	Code            string        // the innermost error code in the body; "" when the body had none
	Message         string        // the message that goes with Code
	RequestID       string        // Graph's request-id (body or header), for support cases
	ClientRequestID string        // the client-request-id this client sent
	RetryAfter      time.Duration // the Retry-After the answer carried, 0 when none
	Date            string        // innerError.date as sent (no time zone)

	codes []string // every code of the error chain, outermost first
}

// Error reports the status, code, message and request ids.
func (e *GraphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" || e.ClientRequestID != "" {
		fmt.Fprintf(&b, " (request-id %s, client-request-id %s)", orDash(e.RequestID), orDash(e.ClientRequestID))
	}
	return b.String()
}

// Is matches a *GraphError target on its Code against every code of e's
// chain (case-insensitively), or on Status when the target has no Code.
func (e *GraphError) Is(target error) bool {
	t, ok := target.(*GraphError)
	if !ok {
		return false
	}
	if t.Code == "" {
		return t.Status != 0 && t.Status == e.Status
	}
	if strings.EqualFold(t.Code, e.Code) {
		return true
	}
	for _, c := range e.codes {
		if strings.EqualFold(t.Code, c) {
			return true
		}
	}
	return false
}

// AuthError is a failure to get a token from Microsoft Entra ID. It never
// holds the client secret.
type AuthError struct {
	Tenant        string // the tenant key of the config
	Status        int    // HTTP status of the token endpoint, 0 when there was no answer
	Code          string // the AADSTS code (e.g. "AADSTS7000215"), else the OAuth error, else contract.CodeTokenUnavailable
	OAuthError    string // the OAuth "error" field, e.g. "invalid_client"
	Description   string // error_description (AADSTS code, text, trace and correlation ids)
	CorrelationID string // Entra's correlation_id, for support cases

	err error // azidentity's error, for errors.As; its text is not shown
}

// Error reports the tenant, status, code and description.
func (e *AuthError) Error() string {
	s := fmt.Sprintf("entra id token for tenant %s", e.Tenant)
	if e.Status != 0 {
		s += fmt.Sprintf(": %d", e.Status)
	}
	s += " " + e.Code
	// Entra's description repeats the code and ends with ids shown below.
	desc := strings.TrimPrefix(e.Description, e.Code+": ")
	desc, _, _ = strings.Cut(desc, " Trace ID: ")
	if desc != "" {
		s += ": " + desc
	}
	if e.CorrelationID != "" {
		s += " (correlation-id " + e.CorrelationID + ")"
	}
	return s
}

// Unwrap returns azidentity's error.
func (e *AuthError) Unwrap() error { return e.err }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errorBody is Graph's error envelope.
type errorBody struct {
	Error *errorDetail `json:"error"`
}

// errorDetail is one level of it; innerError nests the next, in either
// spelling Graph uses.
type errorDetail struct {
	Code            string       `json:"code"`
	Message         string       `json:"message"`
	RequestID       string       `json:"request-id"`
	ClientRequestID string       `json:"client-request-id"`
	Date            string       `json:"date"`
	InnerError      *errorDetail `json:"innerError"`
	InnerErrorLower *errorDetail `json:"innererror"`
}

func (d *errorDetail) inner() *errorDetail {
	if d.InnerError != nil {
		return d.InnerError
	}
	return d.InnerErrorLower
}

// maxErrorDepth bounds the walk down innerError.
const maxErrorDepth = 8

// parseGraphError builds a GraphError from a non-2xx answer. The body may
// be anything (HTML from a gateway, empty); what is missing stays empty.
// secrets are replaced in the message before it is kept.
func parseGraphError(status int, header http.Header, body []byte, secrets []string) *GraphError {
	e := &GraphError{Status: status, RequestID: header.Get("request-id"), ClientRequestID: header.Get("client-request-id")}
	var env errorBody
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return e
	}
	for d, depth := env.Error, 0; d != nil && depth < maxErrorDepth; d, depth = d.inner(), depth+1 {
		if d.Code != "" {
			e.codes = append(e.codes, d.Code)
			e.Code = d.Code
		}
		if d.Message != "" {
			e.Message = d.Message
		}
		e.RequestID = cmp.Or(d.RequestID, e.RequestID)
		e.ClientRequestID = cmp.Or(d.ClientRequestID, e.ClientRequestID)
		e.Date = cmp.Or(d.Date, e.Date)
	}
	e.Message = redact(e.Message, secrets)
	return e
}

// secretMin is the shortest value redact replaces: shorter ones would
// shred ordinary words and protect nothing.
const secretMin = 4

// redact replaces every secret in s and bounds its length.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= secretMin {
			s = strings.ReplaceAll(s, v, "REDACTED")
		}
	}
	if len(s) > messageMax {
		n := messageMax
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
