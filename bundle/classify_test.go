package bundle

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestLibraryMessages makes go-pkcs12 produce every message
// libraryFailureOf reads, and checks it is read as meant. When an upgrade
// rewords one, this test fails, not production.
func TestLibraryMessages(t *testing.T) {
	t.Parallel()
	x := kit{tb: t, iter: 1}
	k, pw := testkit.P256Key(t), testPassword
	leaf := issue(t, leafSpec{key: k})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pfx  []byte
		want libraryFailure
	}{
		{"key padding wrong", x.buildPFX(pw, macBMP, plain(t, certBags(t, leaf)...),
			plain(t, desKeyBag(t, pw, make([]byte, 16)))), failKeyDecryption},
		{"key decrypts to no key", x.buildPFX(pw, macBMP, plain(t, certBags(t, leaf)...),
			plain(t, desKeyBag(t, pw, pad([]byte("not a private key"))))), failKeyDecryption},
		{"no certificate", x.buildPFX(pw, macBMP, plain(t, x.shroudedKeyBag(k, pw))), failNoCertificate},
		{"no key", x.buildPFX(pw, macBMP, plain(t, certBags(t, leaf)...)), failNoKey},
		{"two keys", x.buildPFX(pw, macBMP, plain(t, certBags(t, leaf)...),
			plain(t, plainKeyBag(t, k), plainKeyBag(t, k))), failManyKeys},
	}
	for _, tt := range tests {
		_, _, _, err := pkcs12.DecodeChain(tt.pfx, pw)
		if err == nil {
			t.Fatalf("%s: go-pkcs12 decoded the file", tt.name)
		}
		if got := libraryFailureOf(err); got != tt.want {
			t.Errorf("%s: go-pkcs12 said %q, read as %d, want %d", tt.name, err, got, tt.want)
		}
	}
	good := x.buildPFX(pw, macBMP, plain(t, certBags(t, leaf)...), plain(t, desKeyBag(t, pw, pad(pkcs8))))
	if _, err := Decode(good, pw); err != nil {
		t.Fatalf("the crafted 3DES key bag does not decode with its own plaintext: %v", err)
	}
	seen := map[libraryFailure]bool{}
	for _, tt := range tests {
		seen[tt.want] = true
	}
	for _, m := range libraryMessages {
		if !seen[m.kind] {
			t.Errorf("no case produces %q", m.prefix)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	withMAC := &pfxFile{}
	withMAC.pdu.MacData.Mac.Algorithm.Algorithm = oidSHA256
	noMAC := &pfxFile{}
	keyOnly := &pfxFile{plainKeys: 1}
	tests := []struct {
		name string
		f    *pfxFile
		err  error
		code Code
		says string
	}{
		{"incorrect password", withMAC, pkcs12.ErrIncorrectPassword, CodePassword, "check the password"},
		{"incorrect password, wrapped", withMAC, fmt.Errorf("x: %w", pkcs12.ErrIncorrectPassword), CodePassword, "check the password"},
		{"section decryption after the MAC", withMAC, pkcs12.ErrDecryption, CodePassword, "another password"},
		{"section decryption without MAC", noMAC, pkcs12.ErrDecryption, CodePassword, "check the password"},
		{"not implemented", withMAC, pkcs12.NotImplementedError("pbe algorithm 1.2.3 is not supported"), CodeMalformed, "pbe algorithm 1.2.3"},
		{"asn1 syntax", withMAC, asn1.SyntaxError{Msg: "bad"}, CodeMalformed, "not a readable PKCS#12"},
		{"asn1 structure", withMAC, asn1.StructuralError{Msg: "bad"}, CodeMalformed, "not a readable PKCS#12"},
		{"key decryption by text", withMAC, errors.New(libraryMessages[0].prefix), CodePassword, "another password"},
		{"certificate missing, key present", keyOnly, errors.New("pkcs12: certificate missing"), CodeKeyMismatch, "no certificate"},
		{"certificate missing, nothing", noMAC, errors.New("pkcs12: certificate missing"), CodeNoKey, "no certificate and no private key"},
		{"key missing", withMAC, errors.New("pkcs12: private key missing"), CodeNoKey, "no private key"},
		{"two keys", withMAC, errors.New("pkcs12: expected exactly one key bag"), CodeMalformed, "more than one private key"},
		{"anything else", withMAC, errors.New("pkcs12: something new"), CodeMalformed, "not a readable PKCS#12"},
	}
	for _, tt := range tests {
		e := tt.f.classify(tt.err, testPassword)
		if e.Code != tt.code || !strings.Contains(e.Message, tt.says) {
			t.Errorf("%s: classify() = %v, want code %s saying %q", tt.name, e, tt.code, tt.says)
		}
	}
}

// desKeyBag returns a shrouded key bag holding plaintext (a multiple of
// eight bytes, padded or not) encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC
// under password, as RFC 7292 appendix B and C define it, with one
// iteration: it lets a test choose what the decryption yields.
func desKeyBag(tb testing.TB, password string, plaintext []byte) asn1.RawValue {
	tb.Helper()
	bmp, err := encodeBMP(password)
	if err != nil {
		tb.Fatal(err)
	}
	h, _ := classicMACHash(oidSHA1)
	salt := []byte("saltsalt")
	block, err := des.NewTripleDESCipher(pkcs12KDF(h, salt, bmp, 1, 1, 24))
	if err != nil {
		tb.Fatal(err)
	}
	ct := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, pkcs12KDF(h, salt, bmp, 1, 2, 8)).CryptBlocks(ct, plaintext)
	epki := struct {
		Algorithm pkix.AlgorithmIdentifier
		Data      []byte
	}{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHAAnd3KeyTripleDESCBC,
			Parameters: asn1.RawValue{FullBytes: marshal(tb, pbeParams{Salt: salt, Iterations: 1})}},
		Data: ct,
	}
	return asn1.RawValue{FullBytes: marshalBag(tb, safeBag{ID: oidPKCS8ShroudedKeyBag, Value: explicitZero(marshal(tb, epki))})}
}

// pad applies PKCS#7 padding to an eight-byte block size.
func pad(b []byte) []byte { return pkcs7(b, 8) }
