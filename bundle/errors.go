package bundle

import "fmt"

// Code is a stable, machine-readable name for a bundle problem.
type Code string

// Problem codes. They appear in outcome events and in `certrotator inspect`.
const (
	CodeMalformed     Code = "bundle_malformed"      // not base64, not PKCS#12, truncated
	CodePassword      Code = "bundle_password"       // wrong password
	CodeNoKey         Code = "bundle_no_key"         // no private key in the file
	CodeKeyMismatch   Code = "bundle_key_mismatch"   // no certificate matches the private key
	CodeWeakKey       Code = "bundle_weak_key"       // RSA < 2048 bits, EC curve < P-256, or an unsupported key
	CodeExpired       Code = "bundle_expired"        // leaf notAfter is past
	CodeShortValidity Code = "bundle_short_validity" // leaf remaining validity < min_validity
)

// Error is one problem with a bundle. Message says what to fix and holds no
// secret; Err, when set, is the underlying decoder error.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }
func (e *Error) Unwrap() error { return e.Err }
