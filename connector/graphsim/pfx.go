package graphsim

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

var (
	oidData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidPBES2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	errPBES2            = errors.New("graphsim: PFX protected with PBES2 (AES)")
	errNotPKCS12        = errors.New("graphsim: not a PKCS#12 file")
	errKeyMatchesNoCert = errors.New("graphsim: no certificate matches the private key")
)

// pfxRejection is a bad PFX as B2C reports it: a 400 with an AADB2C code.
type pfxRejection struct {
	code    string
	message string
}

// Thumbprint decodes a PFX like uploadClientCertificate does and returns the
// leaf's thumbprint (SHA-1 of the DER, 40 upper-case hex). The error, which
// never holds the password, says why the emulator would reject the file.
func (s *Server) Thumbprint(pfx []byte, password string) (string, error) {
	c, rej := decodePFX(pfx, password)
	if rej != nil {
		return "", fmt.Errorf("decoding pfx: %s: %s", rej.code, rej.message)
	}
	return c.Thumbprint, nil
}

// decodeUpload turns the base64 pkcs12Value and its password into the
// certificate Graph would store, or the rejection B2C would answer with.
func decodeUpload(value, password string) (Cert, *pfxRejection) {
	pfx, rej := decodeBase64PFX(value)
	if rej != nil {
		return Cert{}, rej
	}
	return decodePFX(pfx, password)
}

// decodeBase64PFX is an upload's base64 PFX parameter decoded, as both
// upload actions (uploadClientCertificate, uploadPkcs12) read it.
func decodeBase64PFX(value string) ([]byte, *pfxRejection) {
	pfx, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, malformed("not a valid base64 encoded PKCS#12 (.pfx) file")
	}
	return pfx, nil
}

// decodePFX applies B2C's rules: TripleDES-SHA1 (or weaker legacy) PBE only,
// the right password, a private key, and a certificate matching it (the
// leaf, wherever it sits in the file).
func decodePFX(pfx []byte, password string) (Cert, *pfxRejection) {
	cert, rej := decodePFXCert(pfx, password)
	if rej != nil {
		return Cert{}, rej
	}
	sum := sha1.Sum(cert.Raw)
	return Cert{Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}.truncated(), nil
}

// decodePFXCert is decodePFX returning the whole certificate, which a
// policy key (keyset.go) renders as a JWK.
func decodePFXCert(pfx []byte, password string) (*x509.Certificate, *pfxRejection) {
	if err := checkPBE(pfx); err != nil {
		if errors.Is(err, errPBES2) {
			// B2C accepts TripleDES-SHA1 only; users see this code for
			// AES-protected files even with the right password.
			return nil, &pfxRejection{codePFXPassword, "The certificate password provided in request is incorrect."}
		}
		return nil, malformed("not a valid PKCS#12 (.pfx) file")
	}
	key, leaf, chain, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		return nil, classifyDecodeError(err)
	}
	cert, err := matchingCert(key, append([]*x509.Certificate{leaf}, chain...))
	if err != nil {
		return nil, malformed("the private key matches no certificate in the file")
	}
	return cert, nil
}

// classifyDecodeError maps go-pkcs12's errors. The missing-key and
// missing-certificate cases have no sentinel, so their text is matched; the
// tests pin it.
func classifyDecodeError(err error) *pfxRejection {
	msg := err.Error()
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption),
		strings.Contains(msg, "no MAC in data"), strings.Contains(msg, "UCS-2"):
		return &pfxRejection{codePFXPassword, "The certificate password provided in request is incorrect."}
	case strings.Contains(msg, "private key missing"):
		return &pfxRejection{codePFXNoKey, "The certificate does not contain a private key."}
	case strings.Contains(msg, "certificate missing"):
		return malformed("the file contains no certificate")
	}
	return malformed("not a valid PKCS#12 (.pfx) file")
}

// malformed is B2C's badly-formatted-key rejection with its reason.
func malformed(reason string) *pfxRejection {
	return &pfxRejection{codePFXMalformed, fmt.Sprintf("The uploaded key is badly formatted. Reason: '%s'.", reason)}
}

func matchingCert(key any, certs []*x509.Certificate) (*x509.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errKeyMatchesNoCert
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok {
		return nil, errKeyMatchesNoCert
	}
	for _, c := range certs {
		if pub.Equal(c.PublicKey) {
			return c, nil
		}
	}
	return nil, errKeyMatchesNoCert
}

// PFX structure, as far as needed to read the encryption algorithms that are
// in the clear (RFC 7292): the content encryption of each encryptedData and
// the algorithm of each shrouded key bag in a plain data safe.
type (
	pfxPDU struct {
		Version  int
		AuthSafe contentInfo
		MacData  asn1.RawValue `asn1:"optional"`
	}
	contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
	}
	encryptedData struct {
		Version int
		Info    struct {
			ContentType asn1.ObjectIdentifier
			Algorithm   pkix.AlgorithmIdentifier
			Content     asn1.RawValue `asn1:"tag:0,optional"`
		}
	}
	safeBag struct {
		ID         asn1.ObjectIdentifier
		Value      asn1.RawValue `asn1:"tag:0,explicit"`
		Attributes asn1.RawValue `asn1:"optional"`
	}
	encryptedKeyInfo struct {
		Algorithm pkix.AlgorithmIdentifier
		Data      []byte
	}
)

// checkPBE returns errPBES2 when any clear-text encryption algorithm of the
// PFX is PBES2 (the AES form), and errNotPKCS12 when it cannot be walked.
func checkPBE(pfx []byte) error {
	var pdu pfxPDU
	if rest, err := asn1.Unmarshal(pfx, &pdu); err != nil || len(rest) != 0 || !pdu.AuthSafe.ContentType.Equal(oidData) {
		return errNotPKCS12
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(pdu.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return errNotPKCS12
	}
	var infos []contentInfo
	if _, err := asn1.Unmarshal(authSafe, &infos); err != nil {
		return errNotPKCS12
	}
	for _, ci := range infos {
		if err := checkContentPBE(ci); err != nil {
			return err
		}
	}
	return nil
}

func checkContentPBE(ci contentInfo) error {
	switch {
	case ci.ContentType.Equal(oidEncryptedData):
		var ed encryptedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
			return errNotPKCS12
		}
		if ed.Info.Algorithm.Algorithm.Equal(oidPBES2) {
			return errPBES2
		}
	case ci.ContentType.Equal(oidData):
		var safe []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &safe); err != nil {
			return errNotPKCS12
		}
		var bags []safeBag
		if _, err := asn1.Unmarshal(safe, &bags); err != nil {
			return errNotPKCS12
		}
		for _, b := range bags {
			var ki encryptedKeyInfo
			if !b.ID.Equal(oidShroudedKeyBag) {
				continue
			}
			if _, err := asn1.Unmarshal(b.Value.Bytes, &ki); err != nil {
				return errNotPKCS12
			}
			if ki.Algorithm.Algorithm.Equal(oidPBES2) {
				return errPBES2
			}
		}
	}
	return nil
}
