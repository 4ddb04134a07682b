package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"
	"time"
)

// rsaBitsMin is the smallest RSA modulus Validate accepts.
const rsaBitsMin = 2048

// Validate judges a decoded bundle at now: weak key, expired, remaining
// validity under minValidity. It returns every problem found, in that
// order, or nil. A notBefore in the future is no problem (see Staged); an
// expired leaf is not also reported as short-lived.
func (b *Bundle) Validate(now time.Time, minValidity time.Duration) []*Error {
	var errs []*Error
	if e := checkKey(b.Leaf.PublicKey); e != nil {
		errs = append(errs, e)
	}
	notAfter := b.Leaf.NotAfter
	switch left := notAfter.Sub(now); {
	case now.After(notAfter):
		errs = append(errs, errExpired(notAfter))
	case left < minValidity:
		errs = append(errs, errShortValidity(notAfter, left, minValidity))
	}
	return errs
}

// Staged reports whether the leaf's notBefore is still in the future at now.
func (b *Bundle) Staged(now time.Time) bool { return b.Leaf.NotBefore.After(now) }

// checkKey rejects the keys Microsoft Graph does not take or that are too
// weak: RSA under rsaBitsMin bits, curves other than P-256, P-384 and
// P-521, Ed25519 and anything else.
func checkKey(pub crypto.PublicKey) *Error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < rsaBitsMin {
			return errWeakRSA(bits)
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return errWeakCurve(curveName(k.Curve))
	case ed25519.PublicKey:
		return errEd25519()
	}
	return errKeyKind(fmt.Sprintf("of type %T", pub))
}

// keyType names a public key: "rsa-<bits>", "ec-p256", "ed25519", ...
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ec-" + strings.ToLower(strings.ReplaceAll(curveName(k.Curve), "-", ""))
	case ed25519.PublicKey:
		return "ed25519"
	}
	return "unknown"
}

// curveName returns a curve's name, or "unknown".
func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil || c.Params().Name == "" {
		return "unknown"
	}
	return c.Params().Name
}
