package bundle

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// TestDecodeCapsTotalKDFWork: a file whose every derivation sits at
// KDFIterationsMax (each allowed alone) is refused before any derivation,
// with a message naming the total and the limit; before the total cap it
// cost about seven derivations at the cap.
func TestDecodeCapsTotalKDFWork(t *testing.T) {
	t.Parallel()
	for _, enc := range []struct {
		name string
		enc  *pkcs12.Encoder
	}{{"SHA1/3DES", pkcs12.LegacyDES}, {"AES-256 PBES2", pkcs12.Modern2023}, {"PBMAC1", pkcs12.Modern2026}} {
		t.Run(enc.name, func(t *testing.T) {
			t.Parallel()
			pfx := hostileFixture(t, enc.enc, KDFIterationsMax, targetKey|targetSection|targetMAC)
			_, err := Decode(pfx, testPassword)
			e, ok := errors.AsType[*Error](err)
			if !ok || e.Code != CodeKDFIterations {
				t.Fatalf("Decode() error = %v, want code %s", err, CodeKDFIterations)
			}
			for _, want := range []string{"in total", strconv.Itoa(KDFWorkMax), "openssl pkcs12 -export"} {
				if !strings.Contains(e.Message, want) {
					t.Errorf("message %q does not say %q", e.Message, want)
				}
			}
		})
	}
}

// TestPlanWorkBoundary: the plan counts the MAC and each section twice
// (checked here, decoded by go-pkcs12) and the key once, so OWASP's
// 600,000 PBKDF2 iterations in every place fits, and a little more does
// not. Counts are rewritten, never derived.
func TestPlanWorkBoundary(t *testing.T) {
	t.Parallel()
	plan := func(n int, password string) (int64, *Error) {
		f, e := parsePFX(hostileFixture(t, pkcs12.Modern2023, n, targetKey|targetSection|targetMAC))
		if e != nil {
			t.Fatalf("parsePFX() = %v", e)
		}
		defer f.wipe()
		e = f.planWork(password)
		return f.work, e
	}
	if w, e := plan(600_000, testPassword); e != nil || w != 5*600_000 {
		t.Errorf("600,000 everywhere: planned %d, %v; want %d and accepted", w, e, 5*600_000)
	}
	if w, e := plan(KDFWorkMax/5+1, testPassword); e == nil || e.Code != CodeKDFIterations {
		t.Errorf("just over the total: planned %d, %v; want refused", w, e)
	}
	// The empty password verifies the MAC in both its forms.
	if w, _ := plan(1000, ""); w != 7*1000 {
		t.Errorf("empty password: planned %d, want %d", w, 7*1000)
	}
}
