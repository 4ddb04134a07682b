package testkit

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// The PKCS#12 files of the wild carry keys of many kinds and chains in any
// order. NewBundle (pfx.go) covers the common file; what follows builds the
// others: keys of each kind, a root and intermediate CA, certificates issued
// by any of them, and encodings of a key with any list of certificates.
// bundle's, connector's and graphsim's tests share them.

// Keys of each kind, one per kind and test binary: generation is slow
// under -race, and a test that needs the same key twice (a renewed leaf)
// gets it.
var (
	p256Key    = onceSigner(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	p384Key    = onceSigner(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) })
	p224Key    = onceSigner(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P224(), rand.Reader) })
	ed25519Key = onceSigner(func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	})
	otherRSAKey = onceSigner(func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
)

func onceSigner(gen func() (crypto.Signer, error)) func(testing.TB) crypto.Signer {
	get := sync.OnceValues(gen)
	return func(tb testing.TB) crypto.Signer {
		tb.Helper()
		k, err := get()
		if err != nil {
			tb.Fatalf("generating a test key: %v", err)
		}
		return k
	}
}

// P256Key is the test binary's EC P-256 key (ECKey makes a new one).
func P256Key(tb testing.TB) crypto.Signer { tb.Helper(); return p256Key(tb) }

// P384Key is the test binary's EC P-384 key.
func P384Key(tb testing.TB) crypto.Signer { tb.Helper(); return p384Key(tb) }

// P224Key is the test binary's EC P-224 key: a curve Graph refuses.
func P224Key(tb testing.TB) crypto.Signer { tb.Helper(); return p224Key(tb) }

// Ed25519Key is the test binary's Ed25519 key: a kind B2C refuses.
func Ed25519Key(tb testing.TB) crypto.Signer { tb.Helper(); return ed25519Key(tb) }

// OtherRSAKey is an RSA 2048 key that is not RSAKey(tb, 2048): a stranger's
// key, or a second party's.
func OtherRSAKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	return otherRSAKey(tb).(*rsa.PrivateKey)
}

// Cert is a certificate and its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertSpec describes a certificate for NewCert. Every certificate is for
// client authentication and signs with its key.
type CertSpec struct {
	CN                  string        // defaults to api.contoso.example
	Org                 string        // the subject's organization; none when empty
	Key                 crypto.Signer // defaults to P256Key
	NotBefore, NotAfter time.Time     // required
	Issuer              *Cert         // signs the certificate; nil: it signs itself
	CA                  bool          // may sign others; a self-signed certificate always may
}

// NewCert issues the certificate spec describes.
func NewCert(tb testing.TB, spec CertSpec) Cert {
	tb.Helper()
	if spec.Key == nil {
		spec.Key = P256Key(tb)
	}
	subject := pkix.Name{CommonName: cmp.Or(spec.CN, "api.contoso.example")}
	if spec.Org != "" {
		subject.Organization = []string{spec.Org}
	}
	ca := spec.CA || spec.Issuer == nil
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + serial.Add(1)), Subject: subject,
		NotBefore: spec.NotBefore, NotAfter: spec.NotAfter,
		BasicConstraintsValid: true, IsCA: ca,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	parent, signer := tmpl, spec.Key
	if spec.Issuer != nil {
		parent, signer = spec.Issuer.Cert, spec.Issuer.Key
	}
	return Cert{Cert: SignCert(tb, tmpl, parent, spec.Key.Public(), signer), Key: spec.Key}
}

// SignCert creates the certificate tmpl describes, signed by by as parent,
// for a template NewCert cannot express.
func SignCert(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, by crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, by)
	if err != nil {
		tb.Fatalf("creating the test certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parsing the test certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	return c
}

// Chain is a root CA ("Test Root CA", P-256) and an intermediate it signed
// ("Test Intermediate CA", P-384), each with a key of its own, valid from ten years before the first
// use for thirty years.
type Chain struct {
	Root, Inter Cert
}

var chainOnce sync.Once
var chainVal Chain

// TwoTier returns the test binary's Chain.
func TwoTier(tb testing.TB) Chain {
	tb.Helper()
	chainOnce.Do(func() {
		now := time.Now()
		nb, na := now.AddDate(-10, 0, 0), now.AddDate(20, 0, 0)
		interKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			tb.Fatalf("generating the test intermediate's key: %v", err)
		}
		root := NewCert(tb, CertSpec{CN: "Test Root CA", Key: ECKey(tb), NotBefore: nb, NotAfter: na})
		chainVal = Chain{Root: root, Inter: NewCert(tb, CertSpec{CN: "Test Intermediate CA", Key: interKey,
			NotBefore: nb, NotAfter: na, Issuer: &root, CA: true})}
	})
	if chainVal.Inter.Cert == nil {
		tb.Fatal("building the test chain failed earlier")
	}
	return chainVal
}

// Issue is a leaf that the intermediate signed; spec.Issuer is ignored.
func (c Chain) Issue(tb testing.TB, spec CertSpec) *x509.Certificate {
	tb.Helper()
	spec.Issuer, spec.CA = &c.Inter, false
	return NewCert(tb, spec).Cert
}

// EncodePFX encodes key, leaf and chain with enc, as a tool would: enc
// takes chain in the order given and leaf need not match key.
func EncodePFX(tb testing.TB, enc *pkcs12.Encoder, key crypto.Signer, leaf *x509.Certificate, chain []*x509.Certificate, password string) []byte {
	tb.Helper()
	pfx, err := enc.Encode(key, leaf, chain, password)
	if err != nil {
		tb.Fatalf("encoding the test PFX: %v", err)
	}
	return pfx
}

// BundleOf encodes leaf's key with the certificates first and rest (first
// need not be leaf: some tools put a CA first) and returns it as a Bundle
// of leaf. The password is password, or none for enc NoPassword.
func BundleOf(tb testing.TB, enc *pkcs12.Encoder, leaf Cert, password string, first *x509.Certificate, rest ...*x509.Certificate) Bundle {
	tb.Helper()
	if enc == NoPassword {
		password = ""
	}
	return Bundle{PFX: EncodePFX(tb, enc, leaf.Key, first, rest, password), Password: password,
		Thumbprint: Thumbprint(leaf.Cert), Leaf: leaf.Cert, Key: leaf.Key,
		NotBefore: leaf.Cert.NotBefore, NotAfter: leaf.Cert.NotAfter}
}

// RSA2048Key is RSAKey(tb, 2048) as a signer, for tables of key kinds.
func RSA2048Key(tb testing.TB) crypto.Signer { tb.Helper(); return RSAKey(tb, 2048) }

// RSA1024Key is RSAKey(tb, 1024) as a signer: a key too weak for B2C.
func RSA1024Key(tb testing.TB) crypto.Signer { tb.Helper(); return RSAKey(tb, 1024) }
