package testkit

import (
	"crypto/x509"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestTwoTierIssuesVerifiableLeaves(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := TwoTier(t)
	if c.Root.Key == c.Inter.Key || c.Inter.Key == P384Key(t) {
		t.Fatal("the chain's keys must be its own")
	}
	leaf := c.Issue(t, CertSpec{Org: "Contoso", Key: P256Key(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.Root.Cert)
	inters.AddCert(c.Inter.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("a leaf of the chain does not verify: %v", err)
	}
	if leaf.IsCA || leaf.Subject.String() != "CN=api.contoso.example,O=Contoso" || leaf.Issuer.CommonName != "Test Intermediate CA" {
		t.Errorf("leaf %s from %s, CA %v", leaf.Subject, leaf.Issuer, leaf.IsCA)
	}
	if self := NewCert(t, CertSpec{NotBefore: now, NotAfter: now.Add(time.Hour)}); !self.Cert.IsCA {
		t.Error("a self-signed certificate must be able to sign others")
	}
}

func TestBundleOfNamesTheLeafWhateverTheOrder(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := NewCert(t, CertSpec{CN: "root", Key: ECKey(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	leaf := NewCert(t, CertSpec{CN: "leaf", Key: ECKey(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), Issuer: &root})
	for _, enc := range []*pkcs12.Encoder{SHA1DES, AES256, RC2, NoPassword} {
		b := BundleOf(t, enc, leaf, DefaultPassword, root.Cert, leaf.Cert)
		if (enc == NoPassword) != (b.Password == "") || b.Thumbprint != Thumbprint(leaf.Cert) {
			t.Errorf("password %q, thumbprint %s; want the leaf's %s", b.Password, b.Thumbprint, Thumbprint(leaf.Cert))
		}
		if _, first, chain, err := pkcs12.DecodeChain(b.PFX, b.Password); err != nil || first.Subject.CommonName != "root" || len(chain) != 1 {
			t.Errorf("decoding: %v (first %v, chain %d)", err, first, len(chain))
		}
	}
}
