package bundle

import "fmt"

// SizeMax is the largest PFX, in bytes, that Decode reads. A real bundle
// is a few kilobytes: an RSA 4096 key with a chain of five certificates
// stays under 15 KiB, and no CA issues chains that reach 50 KiB. The cap,
// many times that, bounds what a stored file can make the decoder copy and
// walk (normalizing BER, rebuilding, go-pkcs12's own copies) before any
// judgement, and keeps a mistaken upload (a whole trust store, a log file)
// from reaching the decoder at all.
const SizeMax = 256 << 10

// Base64SizeMax is the longest base64 text, in characters, that a caller
// should decode into a PFX: room for SizeMax bytes (4/3 of it) with line
// breaks of any width. Checking it before decoding the text saves the
// decoding; the exact cap is SizeMax, which Decode applies to the result.
const Base64SizeMax = 2 * SizeMax

// CheckBase64Size returns an *Error with CodeTooLarge when n, the length
// of base64 text holding a PFX, is over Base64SizeMax, and nil otherwise.
// Callers that read a PFX as base64 (the Vault field) call it before
// decoding the text.
func CheckBase64Size(n int) error {
	if n > Base64SizeMax {
		return errTooLarge(fmt.Sprintf("%d characters of base64", n), fmt.Sprintf("%d characters", Base64SizeMax))
	}
	return nil
}

// checkSize refuses a PFX over SizeMax bytes.
func checkSize(pfx []byte) *Error {
	if len(pfx) > SizeMax {
		return errTooLarge(fmt.Sprintf("%d bytes", len(pfx)), fmt.Sprintf("%d bytes", SizeMax))
	}
	return nil
}
