package bundle

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestDecryptSectionMatchesGoPKCS12 checks that every kind of section
// go-pkcs12 writes (and so reads) decrypts here too, with the password or
// the empty one: a section checkSections could not read would hide its
// keys from the iteration check.
func TestDecryptSectionMatchesGoPKCS12(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	leaf := issue(t, leafSpec{key: k})
	chain := []*x509.Certificate{testkit.TwoTier(t).Inter.Cert}
	for _, enc := range []struct {
		name string
		enc  *pkcs12.Encoder
	}{{"RC2-40", pkcs12.LegacyRC2}, {"3DES", pkcs12.LegacyDES}, {"AES-256", pkcs12.Modern2023}, {"AES-256 PBMAC1", pkcs12.Modern2026}} {
		for _, password := range []string{testPassword, ""} {
			f, e := parsePFX(testkit.EncodePFX(t, enc.enc.WithIterations(3), k, leaf, chain, password))
			if e != nil {
				t.Fatal(e)
			}
			form, e := f.passwordForm(password)
			if e != nil {
				t.Fatalf("%s, password %q: %v", enc.name, password, e)
			}
			sections := 0
			for _, it := range f.items {
				if !it.encrypted {
					continue
				}
				sections++
				plain := decrypt(it.alg, it.ciphertext, form)
				if plain == nil {
					t.Fatalf("%s, password %q: the section does not decrypt", enc.name, password)
				}
				bags, _, err := readBags(plain)
				if err != nil || len(bags) != 2 || !bagID(bags[0]).Equal(oidCertBag) {
					t.Errorf("%s, password %q: decrypted %d bags (%v), want the two certificates", enc.name, password, len(bags), err)
				}
			}
			if sections != 1 {
				t.Errorf("%s: %d encrypted sections, want 1", enc.name, sections)
			}
		}
	}
}

// TestDecodeRefusesCostlyKeyInsideSection checks a key bag that hides in an
// encrypted section, where only decrypting the section shows its count.
func TestDecodeRefusesCostlyKeyInsideSection(t *testing.T) {
	t.Parallel()
	x := kit{tb: t, iter: 1}
	k, pw := testkit.P256Key(t), testPassword
	leaf := issue(t, leafSpec{key: k})
	hostile := keyBagsWithIterations(t, []asn1.RawValue{x.shroudedKeyBag(k, pw)}, hostileIterations)
	bags := append(certBags(t, leaf), hostile...)
	for _, scheme := range []string{"3DES", "AES-256"} {
		pfx := x.buildPFX(pw, macBMP, encryptSection(t, scheme, pw, bags))
		_, err := Decode(pfx, pw)
		if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeKDFIterations {
			t.Errorf("%s: Decode() error = %v, want code %s", scheme, err, CodeKDFIterations)
		}
		// The same section with a key at a normal count decodes: the
		// section is read as go-pkcs12 reads it.
		good := x.buildPFX(pw, macBMP, encryptSection(t, scheme, pw, append(certBags(t, leaf), x.shroudedKeyBag(k, pw))))
		if _, err := Decode(good, pw); err != nil {
			t.Errorf("%s: Decode(key inside a section) = %v", scheme, err)
		}
	}
}

// TestDecodeRefusesUnreadableSection checks that a section which decrypts
// but does not read as bags here is refused rather than left to go-pkcs12:
// its decoder skips a bag of unknown type however deep its value nests (ours
// stops at berMaxDepth), and would then derive the key behind it.
func TestDecodeRefusesUnreadableSection(t *testing.T) {
	t.Parallel()
	x := kit{tb: t, iter: 1}
	k, pw := testkit.P256Key(t), testPassword
	deep := marshal(t, asn1.NullRawValue)
	for range berMaxDepth + 2 {
		deep = marshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: deep})
	}
	unknown := asn1.RawValue{FullBytes: marshalBag(t, safeBag{ID: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: explicitZero(deep)})}
	hostile := keyBagsWithIterations(t, []asn1.RawValue{x.shroudedKeyBag(k, pw)}, hostileIterations)
	leaf := issue(t, leafSpec{key: k})
	bags := append(append([]asn1.RawValue{unknown}, hostile...), certBags(t, leaf)...)
	_, err := Decode(x.buildPFX(pw, macBMP, encryptSection(t, "AES-256", pw, bags)), pw)
	if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeMalformed {
		t.Fatalf("Decode() error = %v, want code %s", err, CodeMalformed)
	}
}

// TestDecodeWrongPasswordBeforeSections checks that a wrong password is
// reported as such by the MAC check that precedes decrypting sections,
// never as whatever a wrongly decrypted section looks like.
func TestDecodeWrongPasswordBeforeSections(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	pfx := testkit.EncodePFX(t, pkcs12.LegacyRC2.WithIterations(1), k, issue(t, leafSpec{key: k}), nil, testPassword)
	for i := range 300 { // a wrong password pads correctly about once in 256 tries
		_, err := Decode(pfx, fmt.Sprintf("wrong-%d", i))
		if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodePassword {
			t.Fatalf("Decode(wrong password %d) error = %v, want code %s", i, err, CodePassword)
		}
	}
}

// encryptSection returns an encrypted item holding bags, encrypted with
// scheme ("3DES": PBES1; "AES-256": PBES2 with HMAC-SHA256) under password
// at one iteration.
func encryptSection(tb testing.TB, scheme, password string, bags []asn1.RawValue) contentInfo {
	tb.Helper()
	bmp, _ := encodeBMP(password)
	salt, iv := []byte("saltsalt"), []byte("0123456789abcdef")
	var alg pkix.AlgorithmIdentifier
	var block cipher.Block
	var err error
	switch scheme {
	case "3DES":
		h, _ := classicMACHash(oidSHA1)
		block, err = des.NewTripleDESCipher(pkcs12KDF(h, salt, bmp, 1, 1, 24))
		iv = pkcs12KDF(h, salt, bmp, 1, 2, 8)
		alg = pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHAAnd3KeyTripleDESCBC,
			Parameters: asn1.RawValue{FullBytes: marshal(tb, pbeParams{Salt: salt, Iterations: 1})}}
	case "AES-256":
		key, _ := pbkdf2.Key(sha256.New, password, salt, 1, 32)
		block, err = aes.NewCipher(key)
		kdf := pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: marshal(tb, pbkdf2Params{
			Salt: salt, Iterations: 1, PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue}})}}
		sch := pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: marshal(tb, iv)}}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: marshal(tb, pbes2Params{KDF: kdf, Scheme: sch})}}
	}
	if err != nil {
		tb.Fatal(err)
	}
	plain := pkcs7(marshal(tb, bags), block.BlockSize())
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	ed := encryptedData{EncryptedContentInfo: encryptedContentInfo{ContentType: oidData, ContentEncryptionAlgorithm: alg,
		EncryptedContent: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct}}}
	return contentInfo{ContentType: oidEncryptedData, Content: explicitZero(marshal(tb, ed))}
}

// pkcs7 applies PKCS#7 padding to blockSize.
func pkcs7(b []byte, blockSize int) []byte {
	n := blockSize - len(b)%blockSize
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}
