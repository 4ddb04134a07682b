package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// demoIssuer is the demo's private CA; each demo bundle is a leaf it signs.
type demoIssuer struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newDemoIssuer() (*demoIssuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating demo CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "certrotator demo CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing demo CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing demo CA: %w", err)
	}
	return &demoIssuer{cert: cert, key: key}, nil
}

// issue returns a PFX for a fresh client certificate valid for validity,
// encoded the way openssl 3 does by default (AES-256), which B2C refuses:
// the worker's re-encoding is what makes it acceptable.
func (d *demoIssuer) issue(cn string, validity time.Duration, password string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating demo key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("drawing serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, d.cert, &key.PublicKey, d.key)
	if err != nil {
		return nil, fmt.Errorf("signing demo certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing demo certificate: %w", err)
	}
	pfx, err := pkcs12.Modern2023.Encode(key, leaf, []*x509.Certificate{d.cert}, password)
	if err != nil {
		return nil, fmt.Errorf("encoding demo bundle: %w", err)
	}
	return pfx, nil
}
