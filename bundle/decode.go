package bundle

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// Decode is DecodeContext without a context, for callers with nothing to
// cancel (tests, tools). It never returns a context error.
func Decode(pfx []byte, password string) (*Bundle, error) {
	return DecodeContext(context.Background(), pfx, password)
}

// DecodeContext parses a PFX with its password ("" for none). It accepts
// BER encodings and any certificate order, and returns an *Error with
// CodeMalformed, CodeTooLarge, CodeKDFIterations, CodePassword, CodeNoKey
// or CodeKeyMismatch (or CodeWeakKey for a key that cannot sign at all);
// when ctx ends between two of its expensive steps, it returns ctx.Err()
// as it is. It is safe for concurrent use and never changes pfx.
//
// DecodeContext refuses, before any key derivation, a file over SizeMax
// bytes, asking for more than KDFIterationsMax iterations anywhere it can
// see without the password, or planning more than KDFWorkMax in total. It reads the structure first, without the
// password, normalizing BER to DER, then decrypts each encrypted section to
// check the keys inside before go-pkcs12 derives theirs. It then hands
// go-pkcs12's DecodeChain either the file itself or, when the decoder could
// not read it as it is (BER inside the MAC'd bytes, more than two safe
// contents, a password on a file without a MAC), a rebuilt copy. The leaf
// is the certificate that matches the key, never the first one. BER inside
// encrypted safe contents is not supported: go-pkcs12 reads those after
// decrypting them. The copies of the file and of the password that
// DecodeContext makes are zeroed before it returns; go-pkcs12's own copies
// (decrypted sections and key) are out of its reach.
func DecodeContext(ctx context.Context, pfx []byte, password string) (*Bundle, error) {
	if e := checkSize(pfx); e != nil {
		return nil, e
	}
	if e := sniff(pfx); e != nil {
		return nil, e
	}
	if e := checkPassword(password); e != nil {
		return nil, e
	}
	f, e := parsePFX(pfx)
	if e != nil {
		return nil, e
	}
	defer f.wipe()
	if e := f.planWork(password); e != nil {
		return nil, e
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, e := f.decoderInput(password) // may verify the MAC: one key derivation
	if e != nil {
		return nil, e
	}
	if err := f.checkSections(ctx, password); err != nil { // one derivation per section
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, first, rest, err := pkcs12.DecodeChain(in, password)
	if err != nil {
		return nil, f.classify(err, password)
	}
	return assemble(key, append([]*x509.Certificate{first}, rest...))
}

// checkPassword refuses a password PKCS#12 cannot encode.
func checkPassword(password string) *Error {
	bmp, err := encodeBMP(password)
	if err != nil {
		return errPasswordChars()
	}
	clear(bmp)
	return nil
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
