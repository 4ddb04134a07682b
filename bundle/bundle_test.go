package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha1"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

var thumbprintRE = regexp.MustCompile(`^[0-9A-F]{40}$`)

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			b, err := Decode(fx.pfx, fx.password)
			if fx.code != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Decode() error = %v, want an *Error with code %s", err, fx.code)
				}
				if e.Code != fx.code {
					t.Fatalf("Decode() code = %s (%v), want %s", e.Code, err, fx.code)
				}
				if b != nil {
					t.Errorf("Decode() returned a bundle with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(): %v", err)
			}
			checkBundle(t, b)
			if got := b.Leaf.Subject.CommonName; got != fx.leaf {
				t.Errorf("leaf = %q, want %q", got, fx.leaf)
			}
			if got := chainNames(b); !slices.Equal(got, fx.chain) {
				t.Errorf("chain = %q, want %q", got, fx.chain)
			}
		})
	}
}

// checkBundle asserts the invariants of every decoded bundle.
func checkBundle(tb testing.TB, b *Bundle) {
	tb.Helper()
	if b == nil || b.Leaf == nil || b.Key == nil {
		tb.Fatalf("Decode() = %+v, want a leaf and a key", b)
	}
	if !samePublicKey(b.Key.Public(), b.Leaf.PublicKey) {
		tb.Errorf("leaf %q does not carry the bundle's key", b.Leaf.Subject)
	}
	if tp := b.Thumbprint(); !thumbprintRE.MatchString(tp) {
		tb.Errorf("Thumbprint() = %q, want 40 upper-case hex", tp)
	}
	for _, c := range b.Chain {
		if bytes.Equal(c.Raw, b.Leaf.Raw) {
			tb.Errorf("chain holds the leaf")
		}
	}
}

func chainNames(b *Bundle) []string {
	names := []string{}
	for _, c := range b.Chain {
		names = append(names, c.Subject.CommonName)
	}
	return names
}

func TestDecodeMessages(t *testing.T) {
	t.Parallel()
	byName := map[string]fixture{}
	for _, fx := range (kit{tb: t}).badFixtures() {
		byName[fx.name] = fx
	}
	tests := []struct{ fixture, want string }{
		{"wrong password", "check the password field in Vault"},
		{"wrong password, BER throughout", "check the password field in Vault"},
		{"no password for a protected file", "no password was given"},
		{"PEM text", "openssl pkcs12 -export"},
		{"base64 text", "base64-encoded twice"},
		{"truncated by half", "truncated"},
		{"key with no certificate", "no certificate"},
		{"certificates without key", "no private key"},
		{"key encrypted with another password", "another password"},
	}
	for _, tt := range tests {
		fx, ok := byName[tt.fixture]
		if !ok {
			t.Fatalf("no fixture %q", tt.fixture)
		}
		_, err := Decode(fx.pfx, fx.password)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Decode() error = %v, want it to say %q", tt.fixture, err, tt.want)
		}
	}
}

// TestDecodeErrorsHoldNoSecret checks that no failure leaks the password
// or the file's bytes (raw, hex, base64 or URL-safe base64), in any of the
// forms an error may be printed, the underlying decoder error included.
func TestDecodeErrorsHoldNoSecret(t *testing.T) {
	t.Parallel()
	fxs := fixtures(t)
	for _, which := range []target{targetKey, targetSection, targetMAC} {
		fxs = append(fxs, fixture{name: "hostile", pfx: hostileFixture(t, pkcs12.LegacyDES, hostileIterations, which), password: testPassword})
	}
	fxs = append(fxs, fixture{name: "too large", pfx: append([]byte{0x30, 0x84}, garbage(SizeMax, 7)...)})
	for _, fx := range fxs {
		for _, password := range []string{fx.password, testPassword, "wrong-Pässwörd"} {
			_, err := Decode(fx.pfx, password)
			if err == nil {
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: Decode() error %T is not an *Error", fx.name, err)
			}
			printed := []string{err.Error(), e.Message, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e.Message)}
			if e.Err != nil {
				printed = append(printed, e.Err.Error(), fmt.Sprintf("%+v", e.Err))
			}
			for _, s := range printed {
				if password != "" && strings.Contains(s, password) {
					t.Errorf("%s: error holds the password: %s", fx.name, s)
				}
				for _, form := range fileForms(fx.pfx) {
					if strings.Contains(s, form) {
						t.Errorf("%s: error holds file bytes (%q): %s", fx.name, form, s)
					}
				}
			}
		}
	}
}

// fileForms returns excerpts of pfx, from its start and its middle, in
// every form an error could show them: raw, hex, base64, URL-safe base64.
func fileForms(pfx []byte) []string {
	if len(pfx) < 48 {
		return nil
	}
	mid := len(pfx) / 2 / 3 * 3 // base64 of a 3-aligned offset is a substring of the whole's
	b64, url := base64.StdEncoding.EncodeToString(pfx), base64.URLEncoding.EncodeToString(pfx)
	h := hex.EncodeToString(pfx)
	return []string{
		string(pfx[:8]), string(pfx[mid : mid+8]),
		h[2*mid : 2*mid+16],
		b64[mid/3*4 : mid/3*4+16], url[mid/3*4 : mid/3*4+16],
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, fx := range (kit{tb: t}).goodFixtures() {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			b, err := Decode(fx.pfx, fx.password)
			if err != nil {
				t.Fatalf("Decode(): %v", err)
			}
			for _, password := range []string{"new-password", ""} {
				out, err := b.Encode(password)
				if err != nil {
					t.Fatalf("Encode(): %v", err)
				}
				checkLegacyDES(t, out)
				back, err := Decode(out, password)
				if err != nil {
					t.Fatalf("Decode(Encode()): %v", err)
				}
				if back.Thumbprint() != b.Thumbprint() {
					t.Errorf("round trip thumbprint = %s, want %s", back.Thumbprint(), b.Thumbprint())
				}
				if got := chainNames(back); !slices.Equal(got, chainNames(b)) {
					t.Errorf("round trip chain = %q, want %q", got, chainNames(b))
				}
				if !samePublicKey(back.Key.Public(), b.Key.Public()) {
					t.Errorf("round trip changed the key")
				}
			}
		})
	}
}

// checkLegacyDES asserts that pfx uses a SHA-1 MAC and 3DES for both the
// certificates and the key, the form B2C documents.
func checkLegacyDES(tb testing.TB, pfx []byte) {
	tb.Helper()
	oid3DES := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	f := mustParsePFX(tb, pfx)
	if !bytes.Equal(f.der, pfx) {
		tb.Errorf("Encode() output is not DER")
	}
	if alg := f.pdu.MacData.Mac.Algorithm.Algorithm; !alg.Equal(oidSHA1) {
		tb.Errorf("MAC algorithm = %v, want SHA-1", alg)
	}
	var algs []asn1.ObjectIdentifier
	for _, it := range f.items {
		if it.encrypted {
			var ed encryptedData
			if err := unmarshalDER(it.ci.Content.Bytes, &ed); err != nil {
				tb.Fatal(err)
			}
			algs = append(algs, ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Algorithm)
		}
		for _, raw := range it.bags {
			var bag safeBag
			var epki struct {
				Alg  asn1.RawValue
				Data []byte
			}
			if err := unmarshalDER(raw.FullBytes, &bag); err != nil {
				tb.Fatal(err)
			}
			if bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
				if err := unmarshalDER(bag.Value.Bytes, &epki); err != nil {
					tb.Fatal(err)
				}
				var alg struct{ Algorithm asn1.ObjectIdentifier }
				if _, err := asn1.Unmarshal(epki.Alg.FullBytes, &alg); err != nil {
					tb.Fatal(err)
				}
				algs = append(algs, alg.Algorithm)
			}
		}
	}
	if len(algs) != 2 || !algs[0].Equal(oid3DES) || !algs[1].Equal(oid3DES) {
		tb.Errorf("encryption algorithms = %v, want 3DES for the certificates and the key", algs)
	}
}

func TestThumbprint(t *testing.T) {
	t.Parallel()
	leaf := issue(t, leafSpec{key: testkit.P256Key(t)})
	b := &Bundle{Leaf: leaf, Key: testkit.P256Key(t)}
	sum := sha1.Sum(leaf.Raw)
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	if got := b.Thumbprint(); got != want || !thumbprintRE.MatchString(got) {
		t.Errorf("Thumbprint() = %q, want %q", got, want)
	}
	if got := (&Bundle{}).Thumbprint(); got != "" {
		t.Errorf("Thumbprint() without leaf = %q, want empty", got)
	}
}

func TestLogValueRedactsKey(t *testing.T) {
	t.Parallel()
	b, err := Decode(testkit.EncodePFX(t, pkcs12.Modern2023, testkit.P256Key(t), issue(t, leafSpec{key: testkit.P256Key(t)}), nil, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("decoded", "bundle", b)
	out := buf.String()
	if !strings.Contains(out, `"key":"REDACTED"`) || !strings.Contains(out, b.Thumbprint()) {
		t.Errorf("log line = %s, want the thumbprint and a redacted key", out)
	}
	raw, err := testkit.P256Key(t).(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if d := new(big.Int).SetBytes(raw).String(); strings.Contains(out, d) || strings.Contains(out, hex.EncodeToString(raw)) {
		t.Errorf("log line holds key material: %s", out)
	}
}

// TestMACMatchesGoPKCS12 cross-checks the package's MAC code against the
// MACs go-pkcs12 writes (SHA-1, SHA-256, PBMAC1); the SHA-512 fixture
// checks the other direction, as go-pkcs12 verifies a MAC written here.
func TestMACMatchesGoPKCS12(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	leaf := issue(t, leafSpec{key: k})
	for _, enc := range []*pkcs12.Encoder{pkcs12.LegacyDES, pkcs12.Modern2023, pkcs12.Modern2026} {
		for _, password := range []string{testPassword, ""} {
			f, e := parsePFX(testkit.EncodePFX(t, enc, k, leaf, nil, password))
			if e != nil {
				t.Fatal(e)
			}
			form, err := verifyMAC(&f.pdu.MacData, f.macked, password)
			if err != nil {
				t.Fatalf("verifyMAC(%v, %q): %v", f.pdu.MacData.Mac.Algorithm.Algorithm, password, err)
			}
			if want, _ := encodeBMP(password); !bytes.Equal(form, want) {
				t.Errorf("verifyMAC form = %x, want %x", form, want)
			}
			if _, err := verifyMAC(&f.pdu.MacData, f.macked, "nope"); !errors.Is(err, errMACMismatch) {
				t.Errorf("verifyMAC(wrong password) = %v, want %v", err, errMACMismatch)
			}
		}
	}
}

// TestDecodePaths checks that the fixtures exercise what their names say:
// which files go-pkcs12 reads as they are, and which need a rebuild.
func TestDecodePaths(t *testing.T) {
	t.Parallel()
	rebuilt := map[string]bool{
		"modern2023 AES-256":                   false,
		"BER outside the MAC":                  false,
		"CA before leaf, no local key id":      false,
		"passwordless":                         false,
		"passwordless given a password":        true,
		"three safe contents":                  true,
		"BER throughout, modern2023":           true,
		"BER throughout, MAC'd as empty bytes": true,
		"BER throughout, trust store and key":  true,
		"BER throughout, passwordless":         true,
	}
	for _, fx := range (kit{tb: t}).goodFixtures() {
		want, ok := rebuilt[fx.name]
		if !ok {
			continue
		}
		delete(rebuilt, fx.name)
		f, e := parsePFX(fx.pfx)
		if e != nil {
			t.Fatalf("%s: %v", fx.name, e)
		}
		in, e := f.decoderInput(fx.password)
		if e != nil {
			t.Fatalf("%s: %v", fx.name, e)
		}
		if got := !bytes.Equal(in, f.der); got != want {
			t.Errorf("%s: rebuilt = %v, want %v", fx.name, got, want)
		}
		if isBER := !bytes.Equal(f.der, fx.pfx); isBER != strings.HasPrefix(fx.name, "BER") {
			t.Errorf("%s: input was BER = %v", fx.name, isBER)
		}
	}
	if len(rebuilt) > 0 {
		t.Errorf("fixtures missing: %v", rebuilt)
	}
}

// TestDecodeLeafNotByPosition checks that the CA-first fixtures would fool
// a decoder that takes go-pkcs12's first certificate as the leaf.
func TestDecodeLeafNotByPosition(t *testing.T) {
	t.Parallel()
	for _, fx := range (kit{tb: t}).goodFixtures() {
		if !strings.HasPrefix(fx.name, "CA before leaf") {
			continue
		}
		_, first, _, err := pkcs12.DecodeChain(fx.pfx, fx.password)
		if err != nil {
			t.Fatalf("%s: DecodeChain: %v", fx.name, err)
		}
		if first.Subject.CommonName != "Test Root CA" {
			t.Errorf("%s: DecodeChain's first certificate is %q, want the root", fx.name, first.Subject.CommonName)
		}
		b, err := Decode(fx.pfx, fx.password)
		if err != nil || b.Leaf.Subject.CommonName != fx.leaf {
			t.Errorf("%s: Decode() = %v, %v; want leaf %q", fx.name, b, err, fx.leaf)
		}
	}
}
