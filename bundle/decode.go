package bundle

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Decode parses a PFX with its password ("" for none). It accepts BER
// encodings and any certificate order, and returns an *Error with
// CodeMalformed, CodePassword, CodeNoKey or CodeKeyMismatch (or CodeWeakKey
// for a key that cannot sign at all). It is safe for concurrent use.
//
// Decode reads the structure first, without the password, normalizing BER
// to DER. It then hands go-pkcs12's DecodeChain either the file itself or,
// when the decoder could not read it as it is (BER inside the MAC'd bytes,
// more than two safe contents, a password on a file without a MAC), a
// rebuilt copy. The leaf is the certificate that matches the key, never the
// first one. BER inside encrypted safe contents is not supported: that
// would need decrypting outside go-pkcs12.
func Decode(pfx []byte, password string) (*Bundle, error) {
	if e := sniff(pfx); e != nil {
		return nil, e
	}
	if _, err := encodeBMP(password); err != nil {
		return nil, errPasswordChars()
	}
	f, e := parsePFX(pfx)
	if e != nil {
		return nil, e
	}
	in, e := f.decoderInput(password)
	if e != nil {
		return nil, e
	}
	key, first, rest, err := pkcs12.DecodeChain(in, password)
	if err != nil {
		return nil, f.classify(err, password)
	}
	return assemble(key, append([]*x509.Certificate{first}, rest...))
}

// sniff recognizes, before any parsing, data that is plainly not a PFX and
// says what it is instead. A PFX always starts with a SEQUENCE.
func sniff(b []byte) *Error {
	switch {
	case len(b) == 0:
		return errEmpty()
	case b[0] == 0x30:
		return nil
	case bytes.Contains(b[:min(len(b), 4096)], []byte("-----BEGIN ")):
		return errPEM()
	case isBase64Text(b):
		return errBase64Text()
	}
	return errMalformed(errors.New("bundle: data does not start with an ASN.1 SEQUENCE"))
}

// isBase64Text reports whether b is made only of base64 characters and
// whitespace, and long enough to be more than a coincidence.
func isBase64Text(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '+', c == '/', c == '=', c == '-', c == '_', c == '\r', c == '\n', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

// classify turns a go-pkcs12 error into an *Error. go-pkcs12 exports
// sentinels only for a wrong password and a failed decryption; the missing
// certificate, missing key and extra key cases are told apart by their
// messages, which the "without key" and "no certificate" cases of
// TestDecode pin.
func (f *pfxFile) classify(err error, password string) *Error {
	msg := err.Error()
	var ni pkcs12.NotImplementedError
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return errPassword(password, err)
	case errors.Is(err, pkcs12.ErrDecryption) || strings.Contains(msg, pkcs12.ErrDecryption.Error()):
		if f.hasMAC() {
			return errKeyPassword(err) // the MAC verified, so the file's password is right
		}
		return errPassword(password, err)
	case strings.Contains(msg, "certificate missing"):
		if f.plainKeys > 0 {
			return errKeyWithoutCert(err)
		}
		return errNothing(err)
	case strings.Contains(msg, "private key missing"):
		return errNoKey(err)
	case strings.Contains(msg, "expected exactly one key bag"):
		return errManyKeys()
	case errors.As(err, &ni):
		return errUnsupported("a feature the decoder lacks ("+strings.TrimPrefix(msg, "pkcs12: ")+")", err)
	}
	return errMalformed(err)
}

// assemble builds the Bundle from what go-pkcs12 returned.
func assemble(key any, certs []*x509.Certificate) (*Bundle, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errKeyKind(fmt.Sprintf("of type %T", key))
	}
	leaf, others := pickLeaf(signer.Public(), certs)
	if leaf == nil {
		return nil, errMismatch()
	}
	return &Bundle{Leaf: leaf, Chain: orderChain(leaf, others), Key: signer}, nil
}
