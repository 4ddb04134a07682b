package bundle

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// testPassword is the password of the generated files. Its non-ASCII
// letter checks the BMP encoding; tests assert it never shows in errors.
const testPassword = "s3cret-Pässwörd"

// fixture is a generated PFX and what Decode must make of it.
type fixture struct {
	name     string
	pfx      []byte
	password string   // what Decode gets
	code     Code     // "" when Decode must succeed
	leaf     string   // the leaf's CN on success
	chain    []string // the chain's CNs, in order, on success
}

var caNames = []string{"Test Intermediate CA", "Test Root CA"}

// fixtures generates every file the decode tests use.
func fixtures(tb testing.TB) []fixture {
	tb.Helper()
	x := kit{tb: tb}
	return append(x.goodFixtures(), x.badFixtures()...)
}

func (x kit) goodFixtures() []fixture {
	tb := x.tb
	tb.Helper()
	c, k, pw := testkit.TwoTier(tb), x.leafKey(), testPassword
	leaf := issue(tb, leafSpec{key: k})
	chain, rev := []*x509.Certificate{c.Inter.Cert, c.Root.Cert}, []*x509.Certificate{c.Root.Cert, c.Inter.Cert}
	modern := x.encode(pkcs12.Modern2023, k, leaf, chain, pw)
	des := x.encode(pkcs12.LegacyDES, k, leaf, chain, pw)
	pbmac1 := x.encode(pkcs12.Modern2026, k, leaf, chain, pw)
	none := x.encode(pkcs12.Passwordless, k, leaf, chain, "")
	nilMAC := x.buildPFX("", macNil, plain(tb, certBags(tb, c.Root.Cert, c.Inter.Cert, leaf)...), plain(tb, plainKeyBag(tb, k)))
	sha512MAC := x.buildPFX(pw, macSHA512, plain(tb, certBags(tb, leaf, c.Root.Cert, c.Inter.Cert)...), plain(tb, x.shroudedKeyBag(k, pw)))
	trust := x.trustStore(pw, c.Root.Cert, c.Inter.Cert, leaf)
	ok := func(name string, pfx []byte, password string) fixture {
		return fixture{name: name, pfx: pfx, password: password, leaf: leaf.Subject.CommonName, chain: caNames}
	}
	fs := []fixture{
		ok("modern2023 AES-256", modern, pw),
		ok("legacy 3DES", des, pw),
		ok("legacy RC2-40", x.encode(pkcs12.LegacyRC2, k, leaf, chain, pw), pw),
		ok("modern2026 PBMAC1", pbmac1, pw),
		ok("passwordless", none, ""),
		ok("passwordless given a password", none, pw),
		ok("empty password", x.encode(pkcs12.Modern2023, k, leaf, chain, ""), ""),
		ok("empty password MAC'd as empty bytes", nilMAC, ""),
		ok("no MAC, plain key bag", x.buildPFX("", macNone, plain(tb, plainKeyBag(tb, k)), plain(tb, certBags(tb, c.Root.Cert, leaf, c.Inter.Cert)...)), ""),
		ok("chain root first", x.encode(pkcs12.Modern2023, k, leaf, rev, pw), pw),
		ok("CA before leaf, no local key id", x.buildPFX(pw, macBMP,
			plain(tb, certBags(tb, c.Root.Cert, c.Inter.Cert, leaf)...), plain(tb, x.shroudedKeyBag(k, pw))), pw),
		ok("CA before leaf, encrypted, key first", x.buildPFX(pw, macBMP,
			plain(tb, x.shroudedKeyBag(k, pw)), encryptedItem(tb, trust)), pw),
		ok("three safe contents", x.buildPFX(pw, macBMP, plain(tb, x.shroudedKeyBag(k, pw)),
			plain(tb, certBags(tb, c.Root.Cert)...), plain(tb, certBags(tb, leaf, c.Inter.Cert)...)), pw),
		ok("SHA-512 MAC", sha512MAC, pw),
		ok("BER outside the MAC", berify(tb, modern), pw),
		ok("BER throughout, modern2023", berifyDeep(tb, modern, pw), pw),
		ok("BER throughout, legacy 3DES", berifyDeep(tb, des, pw), pw),
		ok("BER throughout, PBMAC1", berifyDeep(tb, pbmac1, pw), pw),
		ok("BER throughout, SHA-512 MAC", berifyDeep(tb, sha512MAC, pw), pw),
		ok("BER throughout, passwordless", berifyDeep(tb, none, ""), ""),
		ok("BER throughout, MAC'd as empty bytes", berifyDeep(tb, nilMAC, ""), ""),
		ok("BER throughout, trust store and key", berifyDeep(tb, x.buildPFX(pw, macBMP,
			encryptedItem(tb, trust), plain(tb, x.shroudedKeyBag(k, pw))), pw), pw),
	}
	for _, kc := range []struct {
		name string
		key  crypto.Signer
	}{{"EC P-256", testkit.P256Key(tb)}, {"EC P-384", testkit.P384Key(tb)}, {"EC P-224", testkit.P224Key(tb)}, {"RSA 1024", testkit.RSA1024Key(tb)}, {"Ed25519", testkit.Ed25519Key(tb)}} {
		l := issue(tb, leafSpec{cn: kc.name, key: kc.key})
		fs = append(fs, fixture{name: kc.name, pfx: x.encode(pkcs12.Modern2023, kc.key, l, chain, pw), password: pw, leaf: kc.name, chain: caNames})
	}
	return fs
}

func (x kit) badFixtures() []fixture {
	tb := x.tb
	tb.Helper()
	c, pw := testkit.TwoTier(tb), testPassword
	leaf, k, modern := x.modern()
	other := issue(tb, leafSpec{cn: "other", key: testkit.Ed25519Key(tb)})
	trust := func(certs ...*x509.Certificate) []byte { return x.trustStore(pw, certs...) }
	pemText := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), "-----BEGIN PRIVATE KEY-----\n...\n"...)
	bad := func(name string, pfx []byte, password string, code Code) fixture {
		return fixture{name: name, pfx: pfx, password: password, code: code}
	}
	return []fixture{
		bad("wrong password", modern, "wrong", CodePassword),
		bad("wrong password, legacy 3DES", x.encode(pkcs12.LegacyDES, k, leaf, nil, pw), "wrong", CodePassword),
		bad("wrong password, BER throughout", berifyDeep(tb, modern, pw), "wrong", CodePassword),
		bad("wrong password, PBMAC1 in BER", berifyDeep(tb, x.encode(pkcs12.Modern2026, k, leaf, nil, pw), pw), "wrong", CodePassword),
		bad("no password for a protected file", modern, "", CodePassword),
		bad("password outside the BMP", modern, "pw\U0001F600", CodePassword),
		bad("key encrypted with another password", x.buildPFX(pw, macBMP,
			plain(tb, certBags(tb, leaf)...), plain(tb, x.shroudedKeyBag(k, "another"))), pw, CodePassword),
		bad("key with no certificate", x.buildPFX(pw, macBMP, plain(tb, x.shroudedKeyBag(k, pw))), pw, CodeKeyMismatch),
		bad("key without its certificate", x.encode(pkcs12.Modern2023, k, other, []*x509.Certificate{c.Inter.Cert}, pw), pw, CodeKeyMismatch),
		bad("certificates without key", trust(leaf, c.Inter.Cert), pw, CodeNoKey),
		bad("certificates without key, plaintext", x.buildPFX(pw, macBMP, plain(tb, certBags(tb, leaf, c.Inter.Cert)...)), pw, CodeNoKey),
		bad("empty safe contents", x.buildPFX(pw, macBMP, plain(tb)), pw, CodeNoKey),
		bad("empty authenticated safe", x.buildPFX(pw, macBMP), pw, CodeNoKey),
		bad("two keys", x.buildPFX(pw, macBMP, plain(tb, certBags(tb, leaf)...),
			plain(tb, x.shroudedKeyBag(k, pw), x.shroudedKeyBag(testkit.Ed25519Key(tb), pw))), pw, CodeMalformed),
		bad("three encrypted safe contents", x.buildPFX(pw, macBMP, encryptedItem(tb, trust(leaf)),
			encryptedItem(tb, trust(c.Inter.Cert)), plain(tb, x.shroudedKeyBag(k, pw))), pw, CodeMalformed),
		bad("truncated by half", modern[:len(modern)/2], pw, CodeMalformed),
		bad("truncated by one byte", modern[:len(modern)-1], pw, CodeMalformed),
		bad("BER truncated", berifyDeep(tb, modern, pw)[:len(modern)/3], pw, CodeMalformed),
		bad("trailing data", append(append([]byte{}, modern...), 0x05, 0x00), pw, CodeMalformed),
		bad("PEM text", pemText, pw, CodeMalformed),
		bad("base64 text", []byte(base64.StdEncoding.EncodeToString(modern)), pw, CodeMalformed),
		bad("DER certificate", leaf.Raw, pw, CodeMalformed),
		bad("random garbage", garbage(512, 0x42), pw, CodeMalformed),
		bad("random garbage in a SEQUENCE", append([]byte{0x30, 0x82, 0x01, 0xfc}, garbage(508, 0x43)...), pw, CodeMalformed),
		bad("empty", nil, pw, CodeMalformed),
	}
}

// garbage returns n deterministic pseudo-random bytes.
func garbage(n int, seed byte) []byte {
	out := make([]byte, 0, n+sha256.Size)
	block := sha256.Sum256([]byte{seed})
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

// plainKeyBag returns key as an unencrypted PKCS#8 key bag.
func plainKeyBag(tb testing.TB, key crypto.Signer) asn1.RawValue {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return asn1.RawValue{FullBytes: marshalBag(tb, safeBag{ID: oidKeyBag, Value: explicitZero(der)})}
}
