package bundle

import (
	"cmp"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// testNow is the clock every test judges at.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// leafSpec describes a leaf to issue from the kit's intermediate. Zero
// times mean valid from a day before testNow for a year.
type leafSpec struct {
	cn                  string
	key                 crypto.Signer
	notBefore, notAfter time.Time
}

// issue is a leaf of O=Contoso from testkit's two-tier chain, its dates
// judged at testNow.
func issue(tb testing.TB, s leafSpec) *x509.Certificate {
	tb.Helper()
	return testkit.TwoTier(tb).Issue(tb, testkit.CertSpec{CN: s.cn, Org: "Contoso", Key: s.key,
		NotBefore: cmp.Or(s.notBefore, testNow.Add(-24*time.Hour)), NotAfter: cmp.Or(s.notAfter, testNow.Add(365*24*time.Hour))})
}

// --- building PFX files by hand ---

var oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}

type testCertBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		tb.Fatalf("marshaling %T: %v", v, err)
	}
	return b
}

// certBags returns plaintext certificate bags without attributes (no local
// key id, no friendly name), as Azure Key Vault exports them.
func certBags(tb testing.TB, certs ...*x509.Certificate) []asn1.RawValue {
	tb.Helper()
	var out []asn1.RawValue
	for _, c := range certs {
		inner := marshal(tb, testCertBag{ID: oidX509Certificate, Data: c.Raw})
		bag := safeBag{ID: oidCertBag, Value: explicitZero(inner)}
		bag.Attributes = asn1.RawValue{} // omitted
		out = append(out, asn1.RawValue{FullBytes: marshalBag(tb, bag)})
	}
	return out
}

func marshalBag(tb testing.TB, bag safeBag) []byte {
	tb.Helper()
	type noAttrs struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"tag:0,explicit"`
	}
	return marshal(tb, noAttrs{ID: bag.ID, Value: bag.Value})
}

// kit builds PFX files. iter is the key derivation iteration count of
// everything it encrypts or MACs: 0 keeps each encoder's default (as tools
// write files). key is the main leaf's key: nil means RSA 2048.
type kit struct {
	tb   testing.TB
	iter int
	key  func(testing.TB) crypto.Signer
}

func (k kit) leafKey() crypto.Signer {
	if k.key == nil {
		return testkit.RSA2048Key(k.tb)
	}
	return k.key(k.tb)
}

func (k kit) encoder(enc *pkcs12.Encoder) *pkcs12.Encoder {
	if k.iter == 0 {
		return enc
	}
	return enc.WithIterations(k.iter)
}

func (k kit) encode(enc *pkcs12.Encoder, key crypto.Signer, leaf *x509.Certificate, chain []*x509.Certificate, password string) []byte {
	k.tb.Helper()
	return testkit.EncodePFX(k.tb, k.encoder(enc), key, leaf, chain, password)
}

// modern issues a leaf for the kit's key and encodes them as OpenSSL 3
// does (AES-256), with the intermediate as chain, under testPassword.
func (k kit) modern() (leaf *x509.Certificate, key crypto.Signer, pfx []byte) {
	k.tb.Helper()
	key = k.leafKey()
	leaf = issue(k.tb, leafSpec{key: key})
	return leaf, key, k.encode(pkcs12.Modern2023, key, leaf, []*x509.Certificate{testkit.TwoTier(k.tb).Inter.Cert}, testPassword)
}

func (k kit) trustStore(password string, certs ...*x509.Certificate) []byte {
	k.tb.Helper()
	pfx, err := k.encoder(pkcs12.Modern2023).EncodeTrustStore(certs, password)
	if err != nil {
		k.tb.Fatalf("encoding trust store: %v", err)
	}
	return pfx
}

// shroudedKeyBag returns key as a PKCS#8 shrouded key bag encrypted with
// password (taken from a go-pkcs12 encoding), stripped of its attributes.
func (k kit) shroudedKeyBag(key crypto.Signer, password string) asn1.RawValue {
	tb := k.tb
	tb.Helper()
	cert := issue(tb, leafSpec{key: key})
	f := mustParsePFX(tb, k.encode(pkcs12.Modern2023, key, cert, nil, password))
	for _, it := range f.items {
		for _, b := range it.bags {
			var bag safeBag
			if err := unmarshalDER(b.FullBytes, &bag); err != nil {
				tb.Fatal(err)
			}
			if bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
				return asn1.RawValue{FullBytes: marshalBag(tb, bag)}
			}
		}
	}
	tb.Fatal("no shrouded key bag in go-pkcs12 output")
	return asn1.RawValue{}
}

// mustParsePFX parses a PFX the test made itself: a failure is the test's.
func mustParsePFX(tb testing.TB, pfx []byte) *pfxFile {
	tb.Helper()
	f, e := parsePFX(pfx)
	if e != nil {
		tb.Fatalf("parsing the test's own PFX: %v", e)
	}
	return f
}

// encryptedItem returns the encrypted item of a go-pkcs12 encoding.
func encryptedItem(tb testing.TB, pfx []byte) contentInfo {
	tb.Helper()
	f := mustParsePFX(tb, pfx)
	for _, it := range f.items {
		if it.encrypted {
			return it.ci
		}
	}
	tb.Fatal("no encrypted item")
	return contentInfo{}
}

// macMode says how kit.buildPFX protects a hand-built PFX.
type macMode int

const (
	macBMP    macMode = iota // classic SHA-256 MAC over the BMP password
	macNil                   // MAC over the empty byte string (empty password, as some tools do)
	macNone                  // no MAC at all
	macSHA512                // classic SHA-512 MAC
)

// buildPFX builds a PFX whose authenticated safe holds items.
func (k kit) buildPFX(password string, mode macMode, items ...contentInfo) []byte {
	tb := k.tb
	tb.Helper()
	safe := marshal(tb, items)
	pdu := pfxPDU{Version: 3, AuthSafe: contentInfo{ContentType: oidData, Content: explicitZero(marshal(tb, safe))}}
	if mode != macNone {
		pdu.MacData = k.mac(safe, password, mode)
	}
	return marshal(tb, pdu)
}

func (k kit) mac(message []byte, password string, mode macMode) macData {
	tb := k.tb
	tb.Helper()
	m := macData{MacSalt: []byte("0123456789abcdef"), Iterations: cmp.Or(k.iter, 2048)}
	m.Mac.Algorithm.Algorithm = oidSHA256
	if mode == macSHA512 {
		m.Mac.Algorithm.Algorithm = oidSHA512
	}
	form, err := encodeBMP(password)
	if err != nil {
		tb.Fatal(err)
	}
	if mode == macNil {
		form = nil
	}
	if m.Mac.Digest, err = macDigest(&m, message, form); err != nil {
		tb.Fatal(err)
	}
	return m
}

// plain returns a plaintext item holding bags.
func plain(tb testing.TB, bags ...asn1.RawValue) contentInfo {
	tb.Helper()
	it, err := plainItem(bags)
	if err != nil {
		tb.Fatal(err)
	}
	return it.ci
}
