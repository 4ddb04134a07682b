package testkit

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Encoders found in the wild, by the names the tests use.
var (
	// SHA1DES is SHA1 with 3DES (OpenSSL 1.x, Windows): what B2C accepts.
	SHA1DES = pkcs12.LegacyDES
	// AES256 is PBES2 with AES-256-CBC and PBKDF2-SHA256 (OpenSSL 3).
	AES256 = pkcs12.Modern2023
	// RC2 is the RC2-40 certificate bag of old Windows and Java exports.
	RC2 = pkcs12.LegacyRC2
	// NoPassword writes neither encryption nor MAC.
	NoPassword = pkcs12.Passwordless
)

// Bundle is a generated PFX and what tests assert about it.
type Bundle struct {
	PFX        []byte
	Password   string
	Thumbprint string // SHA-1 of the leaf's DER, 40 upper-case hex, as Graph shows it
	Leaf       *x509.Certificate
	Key        crypto.Signer
	NotBefore  time.Time
	NotAfter   time.Time
}

// BundleSpec describes a PFX. Its zero value, given dates, is an EC P-256
// leaf signed by the kit's CA, with the CA as chain, SHA1/3DES, password
// "changeit".
type BundleSpec struct {
	CN                  string // defaults to api.contoso.example
	NotBefore, NotAfter time.Time
	Password            string          // defaults to "changeit"; NoPassword encoders ignore it
	Encoder             *pkcs12.Encoder // defaults to SHA1DES
	Key                 crypto.Signer   // the certificate's key; defaults to a new P-256 key
	PFXKey              crypto.Signer   // the key put in the file; defaults to Key (set it to test a mismatch)
	NoKey               bool            // a trust store: certificates only
	SelfSigned          bool            // no CA: the leaf signs itself and there is no chain
	EmptyPassword       bool            // encrypt and MAC with the empty password (Password is ignored)
}

// DefaultPassword protects a Bundle whose spec names none.
const DefaultPassword = "changeit"

var serial atomic.Int64

// NewBundle generates the PFX spec describes.
func NewBundle(tb testing.TB, spec BundleSpec) Bundle {
	tb.Helper()
	if spec.Key == nil {
		spec.Key = ECKey(tb)
	}
	if spec.PFXKey == nil {
		spec.PFXKey = spec.Key
	}
	if spec.Encoder == nil {
		spec.Encoder = SHA1DES
	}
	if spec.EmptyPassword {
		spec.Password = ""
	} else if spec.Password == "" && spec.Encoder != NoPassword {
		spec.Password = DefaultPassword
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + serial.Add(1)),
		Subject:      pkix.Name{CommonName: cmp.Or(spec.CN, "api.contoso.example")},
		NotBefore:    spec.NotBefore, NotAfter: spec.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	parent, signer, chain := tmpl, spec.Key, []*x509.Certificate(nil)
	if !spec.SelfSigned {
		ca := CA(tb)
		parent, signer, chain = ca.Cert, ca.Key, []*x509.Certificate{ca.Cert}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, spec.Key.Public(), signer)
	if err != nil {
		tb.Fatalf("signing the test leaf: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parsing the test leaf: %v", err)
	}
	var pfx []byte
	if spec.NoKey {
		pfx, err = spec.Encoder.EncodeTrustStore(append([]*x509.Certificate{leaf}, chain...), spec.Password)
	} else {
		pfx, err = spec.Encoder.Encode(spec.PFXKey, leaf, chain, spec.Password)
	}
	if err != nil {
		tb.Fatalf("encoding the test PFX: %v", err)
	}
	return Bundle{PFX: pfx, Password: spec.Password, Thumbprint: Thumbprint(leaf), Leaf: leaf, Key: spec.Key,
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
}

// ValidFor is a bundle valid from an hour before now for d.
func ValidFor(tb testing.TB, now time.Time, d time.Duration) Bundle {
	tb.Helper()
	return NewBundle(tb, BundleSpec{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(d)})
}

// Thumbprint is the SHA-1 of the certificate's DER as Graph shows it.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestCA is the kit's certificate authority.
type TestCA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var caOnce = sync.OnceValues(func() (TestCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TestCA{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "certrotator test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return TestCA{}, err
	}
	cert, err := x509.ParseCertificate(der)
	return TestCA{Cert: cert, Key: key}, err
})

// CA returns the kit's CA, made once per test binary.
func CA(tb testing.TB) TestCA {
	tb.Helper()
	ca, err := caOnce()
	if err != nil {
		tb.Fatalf("making the test CA: %v", err)
	}
	return ca
}

// ECKey generates a P-256 key.
func ECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generating an EC key: %v", err)
	}
	return k
}

// RSAKey generates an RSA key of bits (2048 for a valid bundle, 1024 for a
// weak one). Keys are cached per size: RSA generation is slow under -race.
func RSAKey(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	rsaMu.Lock()
	defer rsaMu.Unlock()
	if k, ok := rsaKeys[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatalf("generating an RSA key: %v", err)
	}
	rsaKeys[bits] = k
	return k
}

var (
	rsaMu   sync.Mutex
	rsaKeys = map[int]*rsa.PrivateKey{}
)
