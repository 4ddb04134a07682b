package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// testCA signs the leaves of every test bundle.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	caOnce sync.Once
	caVal  testCA
	caErr  error
)

func ca(tb testing.TB) testCA {
	tb.Helper()
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			caErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			caErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		caVal, caErr = testCA{cert: cert, key: key}, err
	})
	if caErr != nil {
		tb.Fatalf("making test CA: %v", caErr)
	}
	return caVal
}

// testBundle is a generated PFX and what the tests assert about it.
type testBundle struct {
	pfx        []byte
	password   string
	thumbprint string
	notAfter   time.Time
}

type bundleSpec struct {
	cn        string
	notBefore time.Time
	notAfter  time.Time
	password  string
	encoder   *pkcs12.Encoder // default LegacyDES
}

var serial struct {
	sync.Mutex
	n int64
}

func newBundle(tb testing.TB, s bundleSpec) testBundle {
	tb.Helper()
	c := ca(tb)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generating key: %v", err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 100
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn), Subject: pkix.Name{CommonName: s.cn},
		NotBefore: s.notBefore, NotAfter: s.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		tb.Fatalf("signing leaf: %v", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	enc := s.encoder
	if enc == nil {
		enc = pkcs12.LegacyDES
	}
	pfx, err := enc.Encode(key, leaf, []*x509.Certificate{c.cert}, s.password)
	if err != nil {
		tb.Fatalf("encoding pfx: %v", err)
	}
	sum := sha1.Sum(der)
	return testBundle{pfx: pfx, password: s.password, thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])), notAfter: leaf.NotAfter}
}

// validFor is a bundle valid from an hour ago for d.
func validFor(tb testing.TB, d time.Duration, password string) testBundle {
	tb.Helper()
	now := time.Now()
	return newBundle(tb, bundleSpec{cn: "api.e2e.example", notBefore: now.Add(-time.Hour), notAfter: now.Add(d), password: password})
}
