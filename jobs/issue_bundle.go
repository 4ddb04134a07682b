package jobs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"

	"github.com/certrotator/certrotator/bundle"
)

// passwordBytes is the entropy of an issued bundle's password: 192 bits,
// written as 32 URL-safe base64 characters (ASCII, which PKCS#12 and B2C
// take without question).
const passwordBytes = 24

// buildVersion turns a freshly issued certificate into the bundle written
// to KV: leaf, chain and key encoded as SHA1/3DES PKCS#12 (the form B2C
// accepts) under a fresh random password. It decodes its own output again,
// so that a key not matching the leaf or of another kind than the job asks
// for is caught before anything is written. Its errors never hold the key.
func buildVersion(iss Issued, pki PKIRef) (NewVersion, error) {
	b, err := parseIssued(iss)
	if err != nil {
		return NewVersion{}, Permanent(CodeIssuedInvalid, fmt.Errorf("building bundle of serial %s: %w", iss.Serial, err))
	}
	if want := wantKeyType(pki); want != "" && b.KeyType() != want {
		return NewVersion{}, Permanent(CodeIssuedInvalid, fmt.Errorf("building bundle of serial %s: role %s issued a %s key, the job asks for %s: set key_type and key_bits on the role or the job",
			iss.Serial, pki.Role, b.KeyType(), want))
	}
	password, err := randomPassword()
	if err != nil {
		return NewVersion{}, fmt.Errorf("building bundle of serial %s: %w", iss.Serial, err)
	}
	pfx, err := b.Encode(password)
	if err != nil {
		return NewVersion{}, Permanent(CodeIssuedInvalid, fmt.Errorf("building bundle of serial %s: %w", iss.Serial, err))
	}
	if _, err := bundle.Decode(pfx, password); err != nil {
		return NewVersion{}, Permanent(CodeIssuedInvalid, fmt.Errorf("building bundle of serial %s: decoding it again: %w", iss.Serial, err))
	}
	return NewVersion{
		Material:   Material{PFX: pfx, Password: password},
		Serial:     iss.Serial,
		NotAfter:   b.Leaf.NotAfter.UTC(),
		Issuer:     b.Leaf.Issuer.String(),
		Thumbprint: b.Thumbprint(),
	}, nil
}

// randomPassword draws a bundle password from crypto/rand.
func randomPassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("drawing a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// wantKeyType is the bundle.KeyType the job expects, "" for any.
func wantKeyType(pki PKIRef) string {
	switch {
	case pki.KeyType == "":
		return ""
	case pki.KeyType == "ec" && pki.KeyBits > 0:
		return "ec-p" + strconv.Itoa(pki.KeyBits)
	case pki.KeyBits > 0:
		return pki.KeyType + "-" + strconv.Itoa(pki.KeyBits)
	}
	return ""
}

// errNoPEM says a PEM field held no block of the expected kind.
var errNoPEM = errors.New("jobs: no PEM block")

// parseIssued decodes the CA's PEM answer into a bundle (leaf, chain, key).
func parseIssued(iss Issued) (*bundle.Bundle, error) {
	leaf, err := parseCertPEM(iss.CertificatePEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	chain := make([]*x509.Certificate, 0, len(iss.ChainPEM))
	for i, p := range iss.ChainPEM {
		c, err := parseCertPEM(p)
		if err != nil {
			return nil, fmt.Errorf("parsing chain certificate %d: %w", i, err)
		}
		chain = append(chain, c)
	}
	key, err := parseKeyPEM(iss.PrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	return &bundle.Bundle{Leaf: leaf, Chain: chain, Key: key}, nil
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errNoPEM
	}
	return x509.ParseCertificate(blk.Bytes)
}

// parseKeyPEM reads a PKCS#8, PKCS#1 or SEC 1 private key. Its errors say
// which step failed and never quote the key.
func parseKeyPEM(s string) (crypto.Signer, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil, fmt.Errorf("parsing the private key: %w", errNoPEM)
	}
	var (
		key any
		err error
	)
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("parsing the private key: PEM type %q: %w", blk.Type, errNoPEM)
	}
	if err != nil {
		// x509's parse errors describe the structure, not the key bytes.
		return nil, fmt.Errorf("parsing the private key (%s): %w", blk.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parsing the private key: %T cannot sign", key)
	}
	return signer, nil
}
