package graphsim

import "net/http"

// Graph error codes the emulator answers with.
const (
	codeBadRequest          = "BadRequest"
	codeInvalidRequest      = "invalidRequest"
	codeUnsupportedMedia    = "UnsupportedMediaType"
	codeInvalidToken        = "InvalidAuthenticationToken"
	codeNotFound            = "Request_ResourceNotFound"
	codeTooManyRequests     = "TooManyRequests"
	codeActivityLimit       = "activityLimitReached"
	codeServiceUnavailable  = "serviceNotAvailable"
	codeConcurrency         = "Directory_ConcurrencyViolation"
	codeGeneralException    = "generalException"
	codeGatewayTimeout      = "gatewayTimeout"
	codeAuthorizationDenied = "Authorization_RequestDenied"
	codeUnknown             = "UnknownError"
)

// B2C codes for a rejected PFX, with the fixed meanings of B2C's published
// error table. Which code uploadClientCertificate answers
// is documented for none of them; AADB2C90213 was observed on the sibling
// keySets call, the others are inferred from their published meaning.
// AADB2C90212 (state cookie) and AADB2C90214 (key container expiry) mean
// something else and are never used for a bad PFX.
const (
	codePFXMalformed = "AADB2C90215" // "The uploaded key is badly formatted. Reason: '{0}'"
	codePFXPassword  = "AADB2C90213" // observed: wrong password (and AES-protected files)
	codePFXNoKey     = "AADB2C90176" // the certificate does not contain a private key
)

// graphErrorContentType is what Graph sends with an error body.
const graphErrorContentType = "application/json"

// Fault is an error FailNext makes Graph answer with. Code defaults by Status
// (429 TooManyRequests, 503 serviceNotAvailable, 409
// Directory_ConcurrencyViolation, 500 generalException, ...); Status 0 means
// 503. RetryAfter is sent verbatim as the Retry-After header ("" for none).
type Fault struct {
	Status     int
	Code       string
	RetryAfter string
}

func (f Fault) withDefaults() Fault {
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	if f.Code == "" {
		f.Code = defaultCode(f.Status)
	}
	return f
}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return codeBadRequest
	case http.StatusUnauthorized:
		return codeInvalidToken
	case http.StatusForbidden:
		return codeAuthorizationDenied
	case http.StatusNotFound:
		return codeNotFound
	case http.StatusConflict:
		return codeConcurrency
	case http.StatusTooManyRequests:
		return codeTooManyRequests
	case http.StatusInternalServerError:
		return codeGeneralException
	case http.StatusServiceUnavailable:
		return codeServiceUnavailable
	case http.StatusGatewayTimeout:
		return codeGatewayTimeout
	}
	return codeUnknown
}

// faultMessage gives a fault a message in Graph's words. Clients must branch
// on the code, never on this text.
func faultMessage(f Fault) string {
	switch f.Status {
	case http.StatusTooManyRequests:
		return "Too many requests. Please retry after the time in the Retry-After header."
	case http.StatusServiceUnavailable:
		return "The service is temporarily unavailable. Please retry later."
	case http.StatusConflict:
		return "Another operation on this object is in progress. Please retry later."
	case http.StatusGatewayTimeout:
		return "The gateway timed out. Please retry later."
	}
	return http.StatusText(f.Status)
}

// graphError writes Graph's error shape:
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
// innerCode, when set, is nested as innerError.code, as Graph does for a
// more specific code.
func (x *exchange) graphError(status int, code, message, innerCode string) {
	inner := map[string]any{
		"date":              x.now.UTC().Format("2006-01-02T15:04:05"),
		"request-id":        x.requestID,
		"client-request-id": x.clientRequestID,
	}
	if innerCode != "" {
		inner["code"] = innerCode
	}
	body := map[string]any{"error": map[string]any{"code": code, "message": message, "innerError": inner}}
	x.writeJSON(status, graphErrorContentType, body)
}

func (x *exchange) fault(f Fault) {
	if f.RetryAfter != "" {
		x.w.Header().Set("Retry-After", f.RetryAfter)
	}
	x.graphError(f.Status, f.Code, faultMessage(f), "")
}
