package bundle

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

var (
	oidSHA1           = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidPBMAC1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	errMACMismatch = errors.New("bundle: MAC does not verify")
)

// macData is the integrity part of a PFX (RFC 7292 section 4).
type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// pbmac1Params and pbkdf2Params are the PBMAC1 parameters (RFC 9579).
type pbmac1Params struct {
	KDF    pkix.AlgorithmIdentifier
	MACAlg pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// macHash is a hash for the PKCS#12 key derivation: u is its output size
// and v its block size, in bytes (RFC 7292 appendix B.2).
type macHash struct {
	new  func() hash.Hash
	u, v int
}

// classicMACHash returns the hash a classic PKCS#12 MAC names.
func classicMACHash(alg asn1.ObjectIdentifier) (macHash, bool) {
	switch {
	case alg.Equal(oidSHA1):
		return macHash{sha1.New, 20, 64}, true
	case alg.Equal(oidSHA224):
		return macHash{sha256.New224, 28, 64}, true
	case alg.Equal(oidSHA256):
		return macHash{sha256.New, 32, 64}, true
	case alg.Equal(oidSHA384):
		return macHash{sha512.New384, 48, 128}, true
	case alg.Equal(oidSHA512):
		return macHash{sha512.New, 64, 128}, true
	}
	return macHash{}, false
}

// hmacHash returns the hash of an HMAC algorithm identifier; an absent one
// means HMAC-SHA1, as PBKDF2's default PRF.
func hmacHash(alg asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	switch {
	case len(alg) == 0, alg.Equal(oidHMACWithSHA1):
		return sha1.New, true
	case alg.Equal(oidHMACWithSHA256):
		return sha256.New, true
	case alg.Equal(oidHMACWithSHA384):
		return sha512.New384, true
	case alg.Equal(oidHMACWithSHA512):
		return sha512.New, true
	}
	return nil, false
}

// pkcs12KDF derives size bytes of key material for purpose id (3 for MAC
// keys) from a BMP-encoded password, as RFC 7292 appendix B.2 specifies.
func pkcs12KDF(h macHash, salt, password []byte, iterations int, id byte, size int) []byte {
	d := make([]byte, h.v)
	for i := range d {
		d[i] = id
	}
	pw := fillBlocks(password, h.v)
	in := append(fillBlocks(salt, h.v), pw...)
	clear(pw)
	out := make([]byte, 0, size+h.u)
	b := make([]byte, h.v)
	for len(out) < size {
		hh := h.new()
		hh.Write(d)
		hh.Write(in)
		a := hh.Sum(nil)
		for range iterations - 1 {
			hh.Reset()
			hh.Write(a)
			a = hh.Sum(a[:0])
		}
		out = append(out, a...)
		for i := range b {
			b[i] = a[i%len(a)]
		}
		for j := 0; j < len(in); j += h.v {
			addOne(in[j:j+h.v], b)
		}
		clear(a)
	}
	clear(in) // it holds the password
	clear(b)
	clear(out[size:])
	return out[:size]
}

// fillBlocks repeats p to the smallest multiple of v bytes that holds it.
func fillBlocks(p []byte, v int) []byte {
	if len(p) == 0 {
		return nil
	}
	out := make([]byte, v*((len(p)+v-1)/v))
	for i := range out {
		out[i] = p[i%len(p)]
	}
	return out
}

// addOne sets block to block + b + 1 modulo 2^(8*len(block)), big-endian.
func addOne(block, b []byte) {
	carry := 1
	for i := len(block) - 1; i >= 0; i-- {
		sum := int(block[i]) + int(b[i]) + carry
		block[i], carry = byte(sum), sum>>8
	}
}

// macDigest computes the MAC that m describes over message, with the
// password in BMP form (classic MAC) or UTF-8 (PBMAC1).
func macDigest(m *macData, message, bmpPassword []byte) ([]byte, error) {
	if m.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
		return pbmac1Digest(m.Mac.Algorithm, message, bmpPassword)
	}
	h, ok := classicMACHash(m.Mac.Algorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("bundle: MAC digest %s is not supported", m.Mac.Algorithm.Algorithm)
	}
	if m.Iterations < 1 || m.Iterations > KDFIterationsMax {
		return nil, fmt.Errorf("bundle: MAC iteration count %d is out of range", m.Iterations)
	}
	key := pkcs12KDF(h, m.MacSalt, bmpPassword, m.Iterations, 3, h.u)
	defer clear(key)
	mac := hmac.New(h.new, key)
	mac.Write(message)
	return mac.Sum(nil), nil
}

// pbmac1Digest computes a PBMAC1 MAC (RFC 9579), whose password is the
// UTF-8 form of the BMP one.
func pbmac1Digest(alg pkix.AlgorithmIdentifier, message, bmpPassword []byte) ([]byte, error) {
	var p pbmac1Params
	if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("bundle: reading PBMAC1 parameters: %w", err)
	}
	var kp pbkdf2Params
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("bundle: PBMAC1 key derivation %s is not supported", p.KDF.Algorithm)
	}
	if err := unmarshalDER(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, fmt.Errorf("bundle: reading PBKDF2 parameters: %w", err)
	}
	prf, ok1 := hmacHash(kp.PRF.Algorithm)
	mh, ok2 := hmacHash(p.MACAlg.Algorithm)
	if !ok1 || !ok2 || len(p.MACAlg.Algorithm) == 0 {
		return nil, errors.New("bundle: PBMAC1 hash is not supported")
	}
	if kp.KeyLength < 20 || kp.KeyLength > 64 || kp.Iterations < 1 || kp.Iterations > KDFIterationsMax {
		return nil, errors.New("bundle: PBMAC1 parameters are out of range")
	}
	key, err := pbkdf2.Key(prf, decodeBMP(bmpPassword), kp.Salt, kp.Iterations, kp.KeyLength)
	if err != nil {
		return nil, fmt.Errorf("bundle: deriving PBMAC1 key: %w", err)
	}
	defer clear(key)
	mac := hmac.New(mh, key)
	mac.Write(message)
	return mac.Sum(nil), nil
}

// passwordForms returns the BMP encodings a password may have been applied
// with: the zero-terminated BMP string and, for the empty password, also
// the empty byte string some tools use.
func passwordForms(password string) ([][]byte, error) {
	bmp, err := encodeBMP(password)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return [][]byte{bmp, nil}, nil
	}
	return [][]byte{bmp}, nil
}

// verifyMAC checks m over message with password and returns the password
// form that verified, or errMACMismatch. The caller zeroes the form it
// gets; the others are zeroed here.
func verifyMAC(m *macData, message []byte, password string) ([]byte, error) {
	forms, err := passwordForms(password)
	if err != nil {
		return nil, err
	}
	for i, form := range forms {
		got, err := macDigest(m, message, form)
		if err == nil && hmac.Equal(got, m.Mac.Digest) {
			return form, nil
		}
		clear(forms[i])
		if err != nil {
			return nil, err
		}
	}
	return nil, errMACMismatch
}

// handoffMAC returns a cheap HMAC-SHA256 MAC over message. It protects
// only the hand-off of a rebuilt PFX to the decoder, never a stored file.
func handoffMAC(message, form []byte) macData {
	m := macData{MacSalt: []byte("certrotator"), Iterations: 1}
	m.Mac.Algorithm.Algorithm = oidSHA256
	h, _ := classicMACHash(oidSHA256)
	key := pkcs12KDF(h, m.MacSalt, form, 1, 3, h.u)
	defer clear(key)
	mac := hmac.New(h.new, key)
	mac.Write(message)
	m.Mac.Digest = mac.Sum(nil)
	return m
}

// encodeBMP returns s as a zero-terminated big-endian UCS-2 string, the
// PKCS#12 password encoding.
func encodeBMP(s string) ([]byte, error) {
	out := make([]byte, 0, 2*len(s)+2)
	for _, r := range s {
		if r > 0xffff {
			return nil, errors.New("bundle: password has characters PKCS#12 cannot encode")
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0), nil
}

// decodeBMP is the inverse of encodeBMP; a nil or odd input yields "".
func decodeBMP(b []byte) string {
	if len(b)%2 != 0 {
		return ""
	}
	if n := len(b); n >= 2 && b[n-1] == 0 && b[n-2] == 0 {
		b = b[:n-2]
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}
