package bundle

import (
	"crypto/x509"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// benchPFX returns an RSA 2048 leaf with its two CA certificates.
func benchPFX(b *testing.B, enc *pkcs12.Encoder) []byte {
	b.Helper()
	c := ca(b)
	leaf := issue(b, leafSpec{key: rsaKey(b)})
	return encode(b, enc, rsaKey(b), leaf, []*x509.Certificate{c.inter, c.root}, testPassword)
}

func BenchmarkDecode(b *testing.B) {
	modern := benchPFX(b, pkcs12.Modern2023)
	cases := []struct {
		name string
		pfx  []byte
	}{
		{"LegacyDES", benchPFX(b, pkcs12.LegacyDES)},
		{"Modern2023", modern},
		{"Modern2023BER", berifyDeep(b, modern, testPassword)}, // the rebuild path
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.pfx)))
			for b.Loop() {
				if _, err := Decode(bc.pfx, testPassword); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePFX measures the structural pass Decode makes before
// go-pkcs12 runs, to show it is negligible next to the decryption.
func BenchmarkParsePFX(b *testing.B) {
	pfx := benchPFX(b, pkcs12.Modern2023)
	b.ReportAllocs()
	for b.Loop() {
		if _, e := parsePFX(pfx); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	bundle, err := Decode(benchPFX(b, pkcs12.Modern2023), testPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bundle.Encode(testPassword); err != nil {
			b.Fatal(err)
		}
	}
}
