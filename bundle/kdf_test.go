package bundle

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strconv"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// hostileIterations is what issue 8's crafted file asks for: about 27 s of
// key derivation per bag in go-pkcs12.
const hostileIterations = 1 << 25

// target says which derivations withIterations rewrites.
type target int

const (
	targetKey     target = 1 << iota // shrouded key bags in plain items
	targetSection                    // encrypted items
	targetMAC                        // the MAC (classic or PBMAC1)
)

// withIterations rewrites the iteration counts of pfx's derivations named
// by which to n, without deriving anything: the result is what a hostile
// writer would store. Rewritten parts no longer decrypt, which does not
// matter, since Decode must refuse the file before trying. The MAC, when
// not rewritten, is recomputed cheaply so that the file stays consistent.
func withIterations(tb testing.TB, pfx []byte, password string, n int, which target) []byte {
	tb.Helper()
	f := mustParsePFX(tb, pfx)
	var items []contentInfo
	for _, it := range f.items {
		switch {
		case it.encrypted && which&targetSection != 0:
			var ed encryptedData
			if err := unmarshalDER(it.ci.Content.Bytes, &ed); err != nil {
				tb.Fatal(err)
			}
			alg := &ed.EncryptedContentInfo.ContentEncryptionAlgorithm
			*alg = setIterations(tb, *alg, n)
			items = append(items, contentInfo{ContentType: oidEncryptedData, Content: explicitZero(marshal(tb, ed))})
		case !it.encrypted && which&targetKey != 0:
			items = append(items, plain(tb, keyBagsWithIterations(tb, it.bags, n)...))
		default:
			items = append(items, it.ci)
		}
	}
	x := kit{tb: tb, iter: 1}
	out := x.buildPFX(password, macBMP, items...)
	if which&targetMAC == 0 {
		return out
	}
	var pdu pfxPDU
	if err := unmarshalDER(out, &pdu); err != nil {
		tb.Fatal(err)
	}
	if f.pdu.MacData.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
		pdu.MacData = f.pdu.MacData
		pdu.MacData.Mac.Algorithm.Parameters = pbmac1WithIterations(tb, f.pdu.MacData.Mac.Algorithm.Parameters, n)
	} else {
		pdu.MacData.Iterations = n
	}
	return marshal(tb, pdu)
}

// keyBagsWithIterations returns bags with every shrouded key's iteration
// count set to n.
func keyBagsWithIterations(tb testing.TB, bags []asn1.RawValue, n int) []asn1.RawValue {
	tb.Helper()
	out := make([]asn1.RawValue, 0, len(bags))
	for _, raw := range bags {
		var bag safeBag
		if err := unmarshalDER(raw.FullBytes, &bag); err != nil {
			tb.Fatal(err)
		}
		if bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
			var epki struct {
				Algorithm pkix.AlgorithmIdentifier
				Data      []byte
			}
			if err := unmarshalDER(bag.Value.Bytes, &epki); err != nil {
				tb.Fatal(err)
			}
			epki.Algorithm = setIterations(tb, epki.Algorithm, n)
			bag.Value = explicitZero(marshal(tb, epki))
			raw = asn1.RawValue{FullBytes: marshalBag(tb, bag)}
		}
		out = append(out, raw)
	}
	return out
}

// setIterations returns alg (PBES1 or PBES2 with PBKDF2) asking for n
// iterations.
func setIterations(tb testing.TB, alg pkix.AlgorithmIdentifier, n int) pkix.AlgorithmIdentifier {
	tb.Helper()
	if !alg.Algorithm.Equal(oidPBES2) {
		var p pbeParams
		if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
			tb.Fatal(err)
		}
		p.Iterations = n
		alg.Parameters = asn1.RawValue{FullBytes: marshal(tb, p)}
		return alg
	}
	var p pbes2Params
	if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
		tb.Fatal(err)
	}
	p.KDF.Parameters = pbkdf2WithIterations(tb, p.KDF.Parameters, n)
	alg.Parameters = asn1.RawValue{FullBytes: marshal(tb, p)}
	return alg
}

func pbkdf2WithIterations(tb testing.TB, params asn1.RawValue, n int) asn1.RawValue {
	tb.Helper()
	var kp pbkdf2Params
	if err := unmarshalDER(params.FullBytes, &kp); err != nil {
		tb.Fatal(err)
	}
	kp.Iterations = n
	return asn1.RawValue{FullBytes: marshal(tb, kp)}
}

func pbmac1WithIterations(tb testing.TB, params asn1.RawValue, n int) asn1.RawValue {
	tb.Helper()
	var p pbmac1Params
	if err := unmarshalDER(params.FullBytes, &p); err != nil {
		tb.Fatal(err)
	}
	p.KDF.Parameters = pbkdf2WithIterations(tb, p.KDF.Parameters, n)
	return asn1.RawValue{FullBytes: marshal(tb, p)}
}

// hostileFixture is a small P-256 file from enc whose derivations named by
// which ask for n iterations.
func hostileFixture(tb testing.TB, enc *pkcs12.Encoder, n int, which target) []byte {
	tb.Helper()
	k := testkit.P256Key(tb)
	pfx := testkit.EncodePFX(tb, enc.WithIterations(1), k, issue(tb, leafSpec{key: k}), nil, testPassword)
	return withIterations(tb, pfx, testPassword, n, which)
}

func TestDecodeRefusesCostlyKDF(t *testing.T) {
	t.Parallel()
	encoders := []struct {
		name string
		enc  *pkcs12.Encoder
	}{
		{"SHA1/3DES", pkcs12.LegacyDES},
		{"RC2-40", pkcs12.LegacyRC2},
		{"AES-256 PBES2", pkcs12.Modern2023},
		{"PBMAC1", pkcs12.Modern2026},
	}
	targets := []struct {
		name  string
		which target
		what  string
	}{
		{"key", targetKey, "its private key"},
		{"certificates", targetSection, "an encrypted section"},
		{"MAC", targetMAC, "its MAC"},
	}
	for _, ec := range encoders {
		for _, tc := range targets {
			t.Run(ec.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				pfx := hostileFixture(t, ec.enc, hostileIterations, tc.which)
				_, err := Decode(pfx, testPassword)
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Code != CodeKDFIterations {
					t.Fatalf("Decode() error = %v, want code %s", err, CodeKDFIterations)
				}
				for _, want := range []string{strconv.Itoa(hostileIterations), tc.what, strconv.Itoa(KDFIterationsMax), "openssl pkcs12 -export"} {
					if !strings.Contains(e.Message, want) {
						t.Errorf("message %q does not say %q", e.Message, want)
					}
				}
			})
		}
	}
}

// TestDecodeAcceptsKDFAtCap checks the boundary: a count of exactly
// KDFIterationsMax in the key is read (and then fails on the rewritten
// key's decryption, not on the count).
func TestDecodeAcceptsKDFAtCap(t *testing.T) {
	t.Parallel()
	f, e := parsePFX(hostileFixture(t, pkcs12.Modern2023, KDFIterationsMax, targetKey))
	if e != nil {
		t.Fatalf("parsePFX() at the cap = %v, want no error", e)
	}
	if len(f.items) == 0 {
		t.Fatal("parsePFX() read no items")
	}
	if _, e := parsePFX(hostileFixture(t, pkcs12.Modern2023, KDFIterationsMax+1, targetKey)); e == nil || e.Code != CodeKDFIterations {
		t.Fatalf("parsePFX() over the cap = %v, want code %s", e, CodeKDFIterations)
	}
}

func TestDecodeRefusesZeroIterations(t *testing.T) {
	t.Parallel()
	_, err := Decode(hostileFixture(t, pkcs12.LegacyDES, 0, targetKey), testPassword)
	if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeMalformed {
		t.Fatalf("Decode() error = %v, want code %s", err, CodeMalformed)
	}
}
