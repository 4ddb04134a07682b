package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

const minValidity = 168 * time.Hour

func TestJudge(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		name                string
		key                 func(testing.TB) crypto.Signer
		notBefore, notAfter time.Duration // from testNow; zero means the default
		verdict             string
		codes               []Code
		keyType             string
	}{
		{name: "ok RSA", key: testkit.RSA2048Key, verdict: VerdictOK, keyType: "rsa-2048"},
		{name: "ok EC P-256", key: testkit.P256Key, verdict: VerdictOK, keyType: "ec-p256"},
		{name: "ok EC P-384", key: testkit.P384Key, verdict: VerdictOK, keyType: "ec-p384"},
		{name: "staged", key: testkit.RSA2048Key, notBefore: 2 * day, notAfter: 400 * day, verdict: VerdictStaged, keyType: "rsa-2048"},
		{name: "expired", key: testkit.RSA2048Key, notBefore: -400 * day, notAfter: -time.Hour, verdict: VerdictReject, codes: []Code{CodeExpired}, keyType: "rsa-2048"},
		{name: "expires now is short, not expired", key: testkit.RSA2048Key, notAfter: time.Nanosecond, verdict: VerdictReject, codes: []Code{CodeShortValidity}, keyType: "rsa-2048"},
		{name: "short validity", key: testkit.RSA2048Key, notAfter: 3 * day, verdict: VerdictReject, codes: []Code{CodeShortValidity}, keyType: "rsa-2048"},
		{name: "exactly min validity", key: testkit.RSA2048Key, notAfter: minValidity, verdict: VerdictOK, keyType: "rsa-2048"},
		{name: "staged and short", key: testkit.RSA2048Key, notBefore: day, notAfter: 2 * day, verdict: VerdictReject, codes: []Code{CodeShortValidity}, keyType: "rsa-2048"},
		{name: "RSA 1024", key: testkit.RSA1024Key, verdict: VerdictReject, codes: []Code{CodeWeakKey}, keyType: "rsa-1024"},
		{name: "RSA 1024 and expired", key: testkit.RSA1024Key, notBefore: -400 * day, notAfter: -day, verdict: VerdictReject, codes: []Code{CodeWeakKey, CodeExpired}, keyType: "rsa-1024"},
		{name: "EC P-224", key: testkit.P224Key, verdict: VerdictReject, codes: []Code{CodeWeakKey}, keyType: "ec-p224"},
		{name: "Ed25519", key: testkit.Ed25519Key, verdict: VerdictReject, codes: []Code{CodeWeakKey}, keyType: "ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := leafSpec{key: tt.key(t)}
			if tt.notBefore != 0 {
				spec.notBefore = testNow.Add(tt.notBefore)
			}
			if tt.notAfter != 0 {
				spec.notAfter = testNow.Add(tt.notAfter)
			}
			c := testkit.TwoTier(t)
			leaf := issue(t, spec)
			pfx := testkit.EncodePFX(t, pkcs12.Modern2023, spec.key, leaf, []*x509.Certificate{c.Root.Cert, c.Inter.Cert}, testPassword)

			r := Judge(pfx, testPassword, testNow, minValidity)
			var codes []Code
			for _, p := range r.Problems {
				codes = append(codes, p.Code)
				if p.Message == "" {
					t.Errorf("problem %s has no message", p.Code)
				}
			}
			if r.Verdict != tt.verdict || !slices.Equal(codes, tt.codes) {
				t.Fatalf("Judge() = %s %v, want %s %v (%+v)", r.Verdict, codes, tt.verdict, tt.codes, r.Problems)
			}
			if r.Key != tt.keyType {
				t.Errorf("Key = %q, want %q", r.Key, tt.keyType)
			}
			if r.Thumbprint == "" || r.ChainLength != 3 || r.Subject != "CN=api.contoso.example,O=Contoso" || r.Issuer != "CN=Test Intermediate CA" {
				t.Errorf("Judge() = %+v, want the leaf described with a chain of 3", r)
			}
			if !r.NotBefore.Equal(leaf.NotBefore) || !r.NotAfter.Equal(leaf.NotAfter) || r.NotAfter.Location() != time.UTC {
				t.Errorf("validity = %v..%v, want %v..%v in UTC", r.NotBefore, r.NotAfter, leaf.NotBefore, leaf.NotAfter)
			}

			b, err := Decode(pfx, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			errs := b.Validate(testNow, minValidity)
			if len(tt.codes) == 0 && errs != nil {
				t.Errorf("Validate() = %v, want nil", errs)
			}
			if got, want := b.Staged(testNow), tt.notBefore > 0; got != want {
				t.Errorf("Staged() = %v, want %v", got, want)
			}
		})
	}
}

func TestJudgeDecodeFailure(t *testing.T) {
	t.Parallel()
	r := Judge([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "", testNow, minValidity)
	if r.Verdict != VerdictReject || len(r.Problems) != 1 || r.Problems[0].Code != CodeMalformed {
		t.Fatalf("Judge(PEM) = %+v, want one bundle_malformed problem", r)
	}
	if r.ChainLength != 0 || r.Thumbprint != "" || r.NotAfter != nil {
		t.Errorf("Judge(PEM) describes a certificate: %+v", r)
	}
}

func TestJudgeJSON(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	pfx := testkit.EncodePFX(t, pkcs12.Modern2023, k, issue(t, leafSpec{key: k}), nil, "")
	out, err := json.Marshal(Judge(pfx, "", testNow, minValidity))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"problems":[]`, `"verdict":"ok"`, `"chain_length":1`, `"key":"ec-p256"`, `"not_after":"2027-06-01T12:00:00Z"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("JSON %s lacks %s", out, want)
		}
	}
}

func TestKeyType(t *testing.T) {
	t.Parallel()
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa4096 := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 4095), E: 65537}
	tests := []struct {
		pub  crypto.PublicKey
		want string
		weak bool
	}{
		{rsa4096, "rsa-4096", false},
		{testkit.RSA2048Key(t).Public(), "rsa-2048", false},
		{p521.Public(), "ec-p521", false},
		{testkit.P384Key(t).Public(), "ec-p384", false},
		{testkit.P256Key(t).Public(), "ec-p256", false},
		{testkit.P224Key(t).Public(), "ec-p224", true},
		{testkit.Ed25519Key(t).Public(), "ed25519", true},
		{"not a key", "unknown", true},
	}
	for _, tt := range tests {
		if got := keyType(tt.pub); got != tt.want {
			t.Errorf("keyType(%T) = %q, want %q", tt.pub, got, tt.want)
		}
		if e := checkKey(tt.pub); (e != nil) != tt.weak || e != nil && e.Code != CodeWeakKey {
			t.Errorf("checkKey(%s) = %v, want weak %v", tt.want, e, tt.weak)
		}
	}
	if got := (&Bundle{}).KeyType(); got != "" {
		t.Errorf("KeyType() without leaf = %q, want empty", got)
	}
}
