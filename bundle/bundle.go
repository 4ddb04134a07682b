// Package bundle decodes, judges and re-encodes PKCS#12 (PFX) bundles. It
// does no I/O.
//
// Decoding treats its input as hostile, since whoever can write the Vault
// secret chooses every byte and every cost parameter of the file: a file
// over SizeMax bytes, or asking for more than KDFIterationsMax rounds of
// key derivation anywhere (MAC, encrypted sections, keys, keys inside
// sections) or more than KDFWorkMax in all, is refused before the work it
// asks for is done, and the copies
// of the file and password that decoding makes are zeroed afterwards.
package bundle

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Bundle is a decoded PKCS#12 file: the leaf certificate (the one whose
// public key matches the private key), the other certificates, and the key.
// A Bundle is read-only once decoded and safe for concurrent use.
type Bundle struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate // every certificate but the leaf, issuer after subject
	Key   crypto.Signer       `json:"-"`
}

// LogValue keeps the private key out of logs.
func (b *Bundle) LogValue() slog.Value {
	return slog.GroupValue(slog.String("thumbprint", b.Thumbprint()), slog.String("key", "REDACTED"))
}

// Thumbprint returns the SHA-1 of the leaf's DER as 40 upper-case hex
// characters, as Graph shows it, or "" for a Bundle without a leaf.
func (b *Bundle) Thumbprint() string {
	if b == nil || b.Leaf == nil {
		return ""
	}
	sum := sha1.Sum(b.Leaf.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// KeyType describes the leaf's key: "rsa-2048", "rsa-4096", "ec-p256",
// "ec-p384", "ec-p521", and for keys Validate rejects "ec-p224",
// "ed25519" or "unknown". It returns "" for a Bundle without a leaf.
func (b *Bundle) KeyType() string {
	if b == nil || b.Leaf == nil {
		return ""
	}
	return keyType(b.Leaf.PublicKey)
}

// Encode writes the bundle as a PFX protected with SHA1/3DES (the form B2C
// documents as accepted), keeping the chain. The key and leaf carry the
// same local key id, as OpenSSL writes them. The result decodes with
// Decode and the same password. Encode fails only on a password PKCS#12
// cannot encode (outside the Basic Multilingual Plane) or a key type
// PKCS#8 does not know.
func (b *Bundle) Encode(password string) ([]byte, error) {
	return b.encodeWith(pkcs12.LegacyDES, password)
}

// encodeWith is Encode with another encoder; the fuzz test uses a cheap one.
func (b *Bundle) encodeWith(enc *pkcs12.Encoder, password string) ([]byte, error) {
	pfx, err := enc.Encode(b.Key, b.Leaf, b.Chain, password)
	if err != nil {
		return nil, fmt.Errorf("encoding bundle %s: %w", b.Thumbprint(), err)
	}
	return pfx, nil
}
