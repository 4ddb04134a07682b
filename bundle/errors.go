package bundle

import (
	"fmt"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Code is a stable, machine-readable name for a bundle problem.
type Code string

// Problem codes. They appear in outcome events and in `certrotator inspect`.
const (
	CodeMalformed     Code = contract.CodeBundleMalformed     // not base64, not PKCS#12, truncated
	CodePassword      Code = contract.CodeBundlePassword      // wrong password
	CodeNoKey         Code = contract.CodeBundleNoKey         // no private key in the file
	CodeKeyMismatch   Code = contract.CodeBundleKeyMismatch   // no certificate matches the private key
	CodeWeakKey       Code = contract.CodeBundleWeakKey       // RSA < 2048 bits, EC curve < P-256, or an unsupported key
	CodeExpired       Code = contract.CodeBundleExpired       // leaf notAfter is past
	CodeShortValidity Code = contract.CodeBundleShortValidity // leaf remaining validity < min_validity
	// CodeKDFIterations: a key derivation (MAC, encrypted section or key)
	// asks for more than KDFIterationsMax iterations, or all of them together
	// for more than KDFWorkMax.
	CodeKDFIterations Code = contract.CodeBundleKDFIterations
	// CodeTooLarge: the file is over SizeMax bytes (or its base64 text over
	// Base64SizeMax characters).
	CodeTooLarge Code = contract.CodeBundleTooLarge
)

// Error is one problem with a bundle. Message says what to fix and holds no
// secret; Err, when set, is the underlying decoder error.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error returns the code and the message; never the underlying error,
// whose text a caller reaches through Unwrap.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Unwrap returns the underlying decoder error, or nil.
func (e *Error) Unwrap() error { return e.Err }

// exportHint is how an operator turns a certificate and its key into a
// PKCS#12 file that every tool reads.
const exportHint = "`openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.pfx`"

// The constructors below hold every message Decode and Validate return, so
// their wording stays consistent. None of them may include the password or
// any byte of the file.

func errEmpty() *Error {
	return &Error{Code: CodeMalformed, Message: "the bundle is empty: store the base64 of a PKCS#12 (.pfx) file in the pfx field"}
}

func errPEM() *Error {
	return &Error{Code: CodeMalformed, Message: "the bundle is PEM text, not PKCS#12: convert it with " + exportHint + " and store the base64 of the .pfx"}
}

func errBase64Text() *Error {
	return &Error{Code: CodeMalformed, Message: "the bundle is base64 text, not PKCS#12: it was base64-encoded twice; store the base64 of the binary .pfx once"}
}

func errBase64File() *Error {
	return &Error{Code: CodeMalformed, Message: "the file is base64 text (the form the Vault pfx field holds), not a binary PKCS#12 (.pfx) file: " +
		"decode it with `base64 -d FILE > bundle.pfx` and inspect bundle.pfx"}
}

func errMalformed(err error) *Error {
	return &Error{Code: CodeMalformed, Message: "the bundle is not a readable PKCS#12 (.pfx) file: export it again, e.g. with " + exportHint, Err: err}
}

func errKDFIterations(n int, what string) *Error {
	return &Error{Code: CodeKDFIterations, Message: fmt.Sprintf("the PKCS#12 file asks for %d key-derivation iterations for %s, over the limit of %d: "+
		"re-export it with a standard iteration count (2048 to 600000), e.g. with %s", n, what, KDFIterationsMax, exportHint)}
}

func errKDFWork(total int64) *Error {
	return &Error{Code: CodeKDFIterations, Message: fmt.Sprintf("the PKCS#12 file asks for %d key-derivation iterations in total (MAC, sections and key, "+
		"each counted as often as a decode runs it), over the limit of %d: re-export it with a standard iteration count (2048 to 600000), e.g. with %s",
		total, KDFWorkMax, exportHint)}
}

func errTooLarge(size, limit string) *Error {
	return &Error{Code: CodeTooLarge, Message: "the bundle is " + size + ", over the limit of " + limit +
		": a PKCS#12 file holding one certificate, its key and its chain is a few kilobytes; export only those, e.g. with " + exportHint}
}

func errTruncated(err error) *Error {
	return &Error{Code: CodeMalformed, Message: "the PKCS#12 data is truncated: store the whole .pfx file again", Err: err}
}

func errUnsupported(what string, err error) *Error {
	return &Error{Code: CodeMalformed, Message: "the PKCS#12 file uses " + what + ", which is not supported: re-export it with " + exportHint, Err: err}
}

func errManyKeys() *Error {
	return &Error{Code: CodeMalformed, Message: "the PKCS#12 file holds more than one private key: export only the certificate to rotate, with its key and chain"}
}

func errPassword(password string, err error) *Error {
	if password == "" {
		return &Error{Code: CodePassword, Message: "the PKCS#12 file is password-protected and no password was given: set the password field in Vault", Err: err}
	}
	return &Error{Code: CodePassword, Message: "the password does not open this PKCS#12 file" + passwordHint(password) + ": check the password field in Vault", Err: err}
}

func errPasswordChars() *Error {
	return &Error{Code: CodePassword, Message: "the password has characters PKCS#12 cannot encode (outside the Basic Multilingual Plane): re-export the file with another password"}
}

func errKeyPassword(err error) *Error {
	return &Error{Code: CodePassword, Message: "the password opens the file but not its private key, which uses another password: re-export it with one password, e.g. with " + exportHint, Err: err}
}

func errNoKey(err error) *Error {
	return &Error{Code: CodeNoKey, Message: "the PKCS#12 file holds no private key: export the certificate together with its private key", Err: err}
}

func errNothing(err error) *Error {
	return &Error{Code: CodeNoKey, Message: "the PKCS#12 file holds no certificate and no private key: export the certificate together with its private key", Err: err}
}

func errKeyWithoutCert(err error) *Error {
	return &Error{Code: CodeKeyMismatch, Message: "the PKCS#12 file holds a private key but no certificate: export the certificate together with its key", Err: err}
}

func errMismatch() *Error {
	return &Error{Code: CodeKeyMismatch, Message: "no certificate in the PKCS#12 file matches its private key: export the certificate together with its own key"}
}

func errKeyKind(kind string) *Error {
	return &Error{Code: CodeWeakKey, Message: "the private key is " + kind + ", which cannot sign for Microsoft Graph: use an RSA key of 2048 bits or more, or an ECDSA P-256, P-384 or P-521 key"}
}

func errWeakRSA(bits int) *Error {
	return &Error{Code: CodeWeakKey, Message: fmt.Sprintf("the RSA key has %d bits: issue the certificate with an RSA key of 2048 bits or more", bits)}
}

func errWeakCurve(curve string) *Error {
	return &Error{Code: CodeWeakKey, Message: "the EC key uses curve " + curve + ": issue the certificate with curve P-256, P-384 or P-521"}
}

func errEd25519() *Error {
	return &Error{Code: CodeWeakKey, Message: "Ed25519 keys are not accepted by Microsoft Graph: issue the certificate with an RSA key of 2048 bits or more, or an ECDSA P-256, P-384 or P-521 key"}
}

func errExpired(notAfter time.Time) *Error {
	return &Error{Code: CodeExpired, Message: "the certificate expired at " + notAfter.UTC().Format(time.RFC3339) + ": store a renewed certificate"}
}

func errShortValidity(notAfter time.Time, left, minValidity time.Duration) *Error {
	return &Error{Code: CodeShortValidity, Message: fmt.Sprintf("the certificate expires at %s, in %s, under the minimum validity of %s: store a certificate valid for longer",
		notAfter.UTC().Format(time.RFC3339), left.Round(time.Second), minValidity)}
}
