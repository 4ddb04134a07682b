package bundle

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"slices"
)

var (
	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// checkSections decrypts each encrypted section and checks the shrouded
// key bags inside it, which checkWork cannot see: go-pkcs12 decrypts a
// section and then derives the key of the first key bag it meets, so a
// section could otherwise carry a key asking for any iteration count.
//
// It decrypts as go-pkcs12 does (PBES1 with 3DES or RC2, PBES2 with
// PBKDF2 and AES-CBC) with the password form go-pkcs12 will use, which it
// learns by verifying the MAC (a wrong password is reported here, as
// go-pkcs12 would). A section that does not decrypt, go-pkcs12 cannot
// decrypt either, and fails on before reaching its bags; it is left for
// go-pkcs12 to report. A section that decrypts but does not read as bags
// is refused: go-pkcs12 might read it and reach a key unchecked. The cost
// is one derivation per section (and one for the MAC), under the cap
// checkWork enforced. ctx is checked before each section.
func (f *pfxFile) checkSections(ctx context.Context, password string) error {
	if !slices.ContainsFunc(f.items, func(it safeItem) bool { return it.encrypted }) {
		return nil
	}
	form, e := f.passwordForm(password)
	if e != nil {
		return e
	}
	for _, it := range f.items {
		if !it.encrypted {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		plain := decrypt(it.alg, it.ciphertext, form)
		if plain == nil {
			continue
		}
		f.own(plain)
		bags, der, err := readBags(plain)
		f.own(der)
		if err != nil && !f.hasMAC() {
			return errPassword(password, err) // most likely garbage from a wrong password
		}
		if err != nil {
			return errMalformed(fmt.Errorf("bundle: reading decrypted safe contents: %w", err))
		}
		if e := checkBags(bags); e != nil {
			return e
		}
		if e := f.addKeyWork(bags); e != nil {
			return e
		}
	}
	return nil
}

// passwordForm returns the form of password that go-pkcs12 decrypts with:
// the one the MAC verified with, or the BMP form for a file without a MAC
// (go-pkcs12 gets one only with the empty password, or rebuilt with a
// hand-off MAC over the BMP form).
func (f *pfxFile) passwordForm(password string) ([]byte, *Error) {
	switch {
	case f.macChecked:
		return f.macForm, nil
	case !f.hasMAC():
		form, _ := encodeBMP(password) // Decode checked the password encodes
		return f.own(form), nil
	}
	return f.verifyPassword(password)
}

// verifyPassword checks password against the file's MAC and remembers the
// form it verified with: the form go-pkcs12 decrypts with and the one a
// rebuilt file's hand-off MAC is keyed with. A mismatch is the wrong
// password; anything else is a MAC this package cannot check.
func (f *pfxFile) verifyPassword(password string) ([]byte, *Error) {
	form, err := verifyMAC(&f.pdu.MacData, f.macked, password)
	f.own(form)
	if errors.Is(err, errMACMismatch) {
		return nil, errPassword(password, err)
	}
	if err != nil {
		return nil, errUnsupported("its MAC algorithm", err)
	}
	f.macForm, f.macChecked = form, true
	return form, nil
}

// decrypt decrypts ct with alg and a BMP password form, and strips the
// padding; nil when alg is not one go-pkcs12 decrypts, its parameters do
// not read, or the padding is wrong.
func decrypt(alg pkix.AlgorithmIdentifier, ct, bmpPassword []byte) []byte {
	if len(ct) == 0 {
		return nil
	}
	if alg.Algorithm.Equal(oidPBES2) {
		return decryptPBES2(alg, ct, bmpPassword)
	}
	var p pbeParams
	if unmarshalDER(alg.Parameters.FullBytes, &p) != nil {
		return nil
	}
	h, _ := classicMACHash(oidSHA1)
	derive := func(id byte, size int) []byte { return pkcs12KDF(h, p.Salt, bmpPassword, p.Iterations, id, size) }
	switch {
	case alg.Algorithm.Equal(oidPBEWithSHAAnd3KeyTripleDESCBC):
		key, iv := derive(1, 24), derive(2, 8)
		defer clear(key)
		block, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil
		}
		return cbcDecrypt(block, iv, ct)
	case alg.Algorithm.Equal(oidPBEWithSHAAnd128BitRC2CBC), alg.Algorithm.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		size := 16
		if alg.Algorithm.Equal(oidPBEWithSHAAnd40BitRC2CBC) {
			size = 5
		}
		key, iv := derive(1, size), derive(2, 8)
		k := newRC2Key(key)
		clear(key)
		defer clear(k[:])
		if len(ct)%8 != 0 {
			return nil
		}
		return unpad(rc2CBCDecrypt(k, iv, ct), 8)
	}
	return nil
}

// decryptPBES2 decrypts ct with PBES2 (RFC 8018 section 6.2), whose
// password is the UTF-8 form of the BMP one.
func decryptPBES2(alg pkix.AlgorithmIdentifier, ct, bmpPassword []byte) []byte {
	var p pbes2Params
	var kp pbkdf2Count
	if unmarshalDER(alg.Parameters.FullBytes, &p) != nil || !p.KDF.Algorithm.Equal(oidPBKDF2) ||
		unmarshalDER(p.KDF.Parameters.FullBytes, &kp) != nil || kp.Salt.Tag != asn1.TagOctetString {
		return nil
	}
	prf := pbes2PRF(kp.PRF.Algorithm)
	size := aesKeySize(p.Scheme.Algorithm)
	if prf == nil || size == 0 {
		return nil
	}
	key, err := pbkdf2.Key(prf, decodeBMP(bmpPassword), kp.Salt.Bytes, kp.Iterations, size)
	if err != nil {
		return nil
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	return cbcDecrypt(block, p.Scheme.Parameters.Bytes, ct)
}

// pbes2PRF returns the PBKDF2 PRFs go-pkcs12 knows, nil for others.
func pbes2PRF(alg asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case len(alg) == 0, alg.Equal(oidHMACWithSHA1):
		return sha1.New
	case alg.Equal(oidHMACWithSHA256):
		return sha256.New
	case alg.Equal(oidHMACWithSHA512):
		return sha512.New
	}
	return nil
}

// aesKeySize returns the key size of an AES-CBC scheme, 0 for others.
func aesKeySize(alg asn1.ObjectIdentifier) int {
	switch {
	case alg.Equal(oidAES128CBC):
		return 16
	case alg.Equal(oidAES192CBC):
		return 24
	case alg.Equal(oidAES256CBC):
		return 32
	}
	return 0
}

// cbcDecrypt decrypts ct in CBC mode and strips its padding; nil when the
// IV or the length does not fit the block, or the padding is wrong.
func cbcDecrypt(block cipher.Block, iv, ct []byte) []byte {
	n := block.BlockSize()
	if len(iv) != n || len(ct)%n != 0 {
		return nil
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	return unpad(out, n)
}

// unpad strips PKCS#7 padding as go-pkcs12 checks it; on wrong padding it
// zeroes out and returns nil.
func unpad(out []byte, blockSize int) []byte {
	n := int(out[len(out)-1])
	if n == 0 || n > blockSize || n > len(out) || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		clear(out)
		return nil
	}
	return out[:len(out)-n]
}
