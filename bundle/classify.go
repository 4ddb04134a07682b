package bundle

import (
	"encoding/asn1"
	"errors"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// classify turns a go-pkcs12 error into an *Error. It goes by the types and
// sentinels go-pkcs12 exports (ErrIncorrectPassword, ErrDecryption,
// NotImplementedError) and encoding/asn1's error types; what the library
// reports by message only is read by libraryFailureOf, the one place that
// matches text.
func (f *pfxFile) classify(err error, password string) *Error {
	var ni pkcs12.NotImplementedError
	var syntax asn1.SyntaxError
	var structural asn1.StructuralError
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return errPassword(password, err)
	case errors.Is(err, pkcs12.ErrDecryption):
		return f.decryptionFailed(password, err)
	case errors.As(err, &ni):
		return errUnsupported("a feature the decoder lacks ("+strings.TrimPrefix(ni.Error(), "pkcs12: ")+")", err)
	case errors.As(err, &syntax), errors.As(err, &structural):
		return errMalformed(err)
	}
	switch libraryFailureOf(err) {
	case failKeyDecryption:
		return f.decryptionFailed(password, err)
	case failNoCertificate:
		if f.plainKeys > 0 {
			return errKeyWithoutCert(err)
		}
		return errNothing(err)
	case failNoKey:
		return errNoKey(err)
	case failManyKeys:
		return errManyKeys()
	}
	return errMalformed(err)
}

// decryptionFailed reports a section or key that did not decrypt. When the
// file's MAC verified, the file's password is right, so the key must use
// another one.
func (f *pfxFile) decryptionFailed(password string, err error) *Error {
	if f.hasMAC() {
		return errKeyPassword(err)
	}
	return errPassword(password, err)
}

// libraryFailure is a go-pkcs12 failure known only by its message.
type libraryFailure int

const (
	failOther libraryFailure = iota
	// failKeyDecryption: the shrouded key did not decrypt (ErrDecryption's
	// text joined into another message, so errors.Is cannot see it), or
	// decrypted to something that is not a key, as a wrong password does
	// once in about 256 tries when the padding happens to look right.
	failKeyDecryption
	failNoCertificate // no certificate bag at all
	failNoKey         // no key bag at all
	failManyKeys      // a second key bag (one go-pkcs12 found inside an encrypted section)
)

// libraryMessages are the messages (v0.7.4) libraryFailureOf knows, by
// prefix. TestLibraryMessages makes go-pkcs12 produce each one, so an
// upgrade that rewords one fails that test rather than production.
var libraryMessages = []struct {
	prefix string
	kind   libraryFailure
}{
	{"pkcs12: error decrypting PKCS#8 shrouded key bag: " + pkcs12.ErrDecryption.Error(), failKeyDecryption},
	{"pkcs12: error unmarshaling decrypted private key: ", failKeyDecryption},
	{"pkcs12: certificate missing", failNoCertificate},
	{"pkcs12: private key missing", failNoKey},
	{"pkcs12: expected exactly one key bag", failManyKeys},
}

// libraryFailureOf reads the kind of a go-pkcs12 error that carries no
// type or sentinel; failOther for any other.
func libraryFailureOf(err error) libraryFailure {
	msg := err.Error()
	for _, m := range libraryMessages {
		if strings.HasPrefix(msg, m.prefix) {
			return m.kind
		}
	}
	return failOther
}
