package bundle

import (
	"crypto"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// benchPFX returns an RSA 2048 leaf with its two CA certificates.
func benchPFX(b *testing.B, enc *pkcs12.Encoder) []byte {
	b.Helper()
	return benchPFXWith(b, enc, testkit.RSA2048Key(b), true, testPassword)
}

// benchPFXWith returns a leaf for key, with the two CA certificates when
// chain is set, protected with password.
func benchPFXWith(b *testing.B, enc *pkcs12.Encoder, key crypto.Signer, chain bool, password string) []byte {
	b.Helper()
	c := testkit.TwoTier(b)
	var cas []*x509.Certificate
	if chain {
		cas = []*x509.Certificate{c.Inter.Cert, c.Root.Cert}
	}
	return testkit.EncodePFX(b, enc, key, issue(b, leafSpec{key: key}), cas, password)
}

// BenchmarkDecode measures Decode per encoding a real export uses, each
// at its encoder's default iteration count, with an RSA 2048 leaf and two
// CA certificates unless the name says otherwise.
func BenchmarkDecode(b *testing.B) {
	modern := benchPFX(b, pkcs12.Modern2023)
	cases := []struct {
		name     string
		pfx      []byte
		password string
	}{
		{"SHA1-3DES", benchPFX(b, pkcs12.LegacyDES), testPassword},
		{"AES256-PBES2", modern, testPassword},
		{"AES256-PBES2-PBMAC1", benchPFX(b, pkcs12.Modern2026), testPassword},
		{"RC2-40", benchPFX(b, pkcs12.LegacyRC2), testPassword},
		{"EmptyPassword", benchPFXWith(b, pkcs12.Modern2023, testkit.RSA2048Key(b), true, ""), ""},
		{"Passwordless", benchPFXWith(b, pkcs12.Passwordless, testkit.RSA2048Key(b), true, ""), ""},
		{"LeafOnly", benchPFXWith(b, pkcs12.Modern2023, testkit.RSA2048Key(b), false, testPassword), testPassword},
		{"EC-P256", benchPFXWith(b, pkcs12.Modern2023, testkit.P256Key(b), true, testPassword), testPassword},
		{"AES256-PBES2-BER", berifyDeep(b, modern, testPassword), testPassword}, // the rebuild path
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.pfx)))
			for b.Loop() {
				if _, err := Decode(bc.pfx, bc.password); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThumbprint measures the SHA-1 and hex of the leaf that every
// comparison with Graph's list goes through.
func BenchmarkThumbprint(b *testing.B) {
	bundle, err := Decode(benchPFX(b, pkcs12.Modern2023), testPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(bundle.Thumbprint()) != 40 {
			b.Fatal("bad thumbprint")
		}
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

// BenchmarkDecodeHostileKDF measures how fast Decode refuses a small file
// whose key asks for 2^25 key-derivation rounds (issue 8's crafted file,
// ~27 s to decode when the count was not checked): it must be a structural
// pass, microseconds, not a derivation.
func BenchmarkDecodeHostileKDF(b *testing.B) {
	for _, which := range []struct {
		name   string
		target target
	}{{"key", targetKey}, {"certificates", targetSection}, {"MAC", targetMAC}} {
		pfx := hostileFixture(b, pkcs12.Modern2023, hostileIterations, which.target)
		b.Run(which.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pfx)))
			for b.Loop() {
				if _, err := Decode(pfx, testPassword); err == nil {
					b.Fatal("Decode() accepted a hostile file")
				}
			}
		})
	}
}

// BenchmarkKDFAtCap measures one key derivation at KDFIterationsMax, the
// most a file may make Decode spend per derivation: the PKCS#12 KDF with
// SHA-1 (PBES1, classic MAC) and PBKDF2 with HMAC-SHA256 (PBES2, PBMAC1).
func BenchmarkKDFAtCap(b *testing.B) {
	salt, password := []byte("0123456789abcdef"), []byte("password")
	b.Run("PKCS12-SHA1", func(b *testing.B) {
		h, _ := classicMACHash(oidSHA1)
		for b.Loop() {
			pkcs12KDF(h, salt, password, KDFIterationsMax, 1, 24)
		}
	})
	b.Run("PBKDF2-SHA256", func(b *testing.B) {
		for b.Loop() {
			if _, err := pbkdf2.Key(sha256.New, string(password), salt, KDFIterationsMax, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeAtWorkCap measures the most derivation work a decode may
// cost: a real AES-256/PBES2 file whose MAC, section and key counts plan
// just under KDFWorkMax ("at-cap"), and the file that the per-derivation
// cap alone let through, SHA1/3DES with every count at KDFIterationsMax
// ("old-worst"), now refused before any derivation.
func BenchmarkDecodeAtWorkCap(b *testing.B) {
	n := KDFWorkMax / 5 // MAC twice, section twice, key once
	k := testkit.P256Key(b)
	atCap := testkit.EncodePFX(b, pkcs12.Modern2023.WithIterations(n), k, issue(b, leafSpec{key: k}), nil, testPassword)
	oldWorst := testkit.EncodePFX(b, pkcs12.LegacyDES.WithIterations(KDFIterationsMax), k, issue(b, leafSpec{key: k}), nil, testPassword)
	b.Run("at-cap", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(atCap, testPassword); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("old-worst", func(b *testing.B) {
		for b.Loop() {
			_, _ = Decode(oldWorst, testPassword) // refused now; decoded before
		}
	})
}
