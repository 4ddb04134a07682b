package bundle

import (
	"bytes"
	"crypto"
	"crypto/x509"
)

// pickLeaf returns the certificate whose public key is key's, and every
// other certificate in file order, without duplicates. It never goes by
// position: Azure Key Vault, among others, writes the CA certificates
// first. When several certificates carry the key (a renewal that kept it),
// an end-entity one beats a CA one, then the later notAfter wins. leaf is
// nil when no certificate matches.
func pickLeaf(key crypto.PublicKey, certs []*x509.Certificate) (leaf *x509.Certificate, others []*x509.Certificate) {
	certs = uniqueCerts(certs)
	best := -1
	for i, c := range certs {
		if !samePublicKey(key, c.PublicKey) {
			continue
		}
		if best < 0 || betterLeaf(c, certs[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil, certs
	}
	others = make([]*x509.Certificate, 0, len(certs)-1)
	others = append(others, certs[:best]...)
	return certs[best], append(others, certs[best+1:]...)
}

// betterLeaf reports whether a is a better leaf than b.
func betterLeaf(a, b *x509.Certificate) bool {
	if a.IsCA != b.IsCA {
		return !a.IsCA
	}
	return a.NotAfter.After(b.NotAfter)
}

// samePublicKey reports whether two public keys are equal. Every key type
// of the standard library has an Equal method.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && k.Equal(b)
}

// uniqueCerts drops repeated certificates (same DER), keeping the first.
func uniqueCerts(certs []*x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		if c == nil || containsCert(out, c) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, o := range certs {
		if bytes.Equal(o.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// orderChain sorts others issuer-after-subject starting from leaf: the
// leaf's issuer first, then its issuer, and so on. Certificates off that
// path keep their file order at the end.
func orderChain(leaf *x509.Certificate, others []*x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(others))
	used := make([]bool, len(others))
	for cur := leaf; ; {
		next := -1
		for i, c := range others {
			if !used[i] && issuedBy(cur, c) {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		cur = others[next]
		out = append(out, cur)
	}
	for i, c := range others {
		if !used[i] {
			out = append(out, c)
		}
	}
	return out
}

// issuedBy reports whether parent's name (and key id, when both carry one)
// is child's issuer. Signatures are not checked: the order is a courtesy
// to the tools that read the re-encoded file, not a trust decision.
func issuedBy(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	if len(child.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0 {
		return bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId)
	}
	return true
}
