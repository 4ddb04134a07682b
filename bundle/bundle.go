// Package bundle decodes, judges and re-encodes PKCS#12 (PFX) bundles. It
// does no I/O.
package bundle

import (
	"crypto"
	"crypto/x509"
	"errors"
	"log/slog"
	"time"
)

// Bundle is a decoded PKCS#12 file: the leaf certificate (the one whose
// public key matches the private key), the other certificates, and the key.
type Bundle struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate // every certificate but the leaf
	Key   crypto.Signer       `json:"-"`
}

// LogValue keeps the private key out of logs.
func (b *Bundle) LogValue() slog.Value {
	return slog.GroupValue(slog.String("thumbprint", b.Thumbprint()), slog.String("key", "REDACTED"))
}

// Decode parses a PFX with its password ("" for none). It accepts BER
// encodings and any certificate order, and returns an *Error with
// CodeMalformed, CodePassword, CodeNoKey or CodeKeyMismatch.
func Decode(pfx []byte, password string) (*Bundle, error) {
	return nil, errors.New("bundle: not implemented")
}

// Thumbprint returns the SHA-1 of the leaf's DER as 40 upper-case hex
// characters, as Graph shows it.
func (b *Bundle) Thumbprint() string { return "" }

// KeyType describes the key: "rsa-2048", "ec-p256", ...
func (b *Bundle) KeyType() string { return "" }

// Validate judges a decoded bundle at now: weak key, expired, remaining
// validity under minValidity. It returns every problem found, or nil.
func (b *Bundle) Validate(now time.Time, minValidity time.Duration) []*Error { return nil }

// Staged reports whether the leaf's notBefore is still in the future at now.
func (b *Bundle) Staged(now time.Time) bool { return b.Leaf.NotBefore.After(now) }

// Encode writes the bundle as a PFX protected with SHA1/3DES (the form B2C
// documents as accepted), keeping the chain.
func (b *Bundle) Encode(password string) ([]byte, error) {
	return nil, errors.New("bundle: not implemented")
}
