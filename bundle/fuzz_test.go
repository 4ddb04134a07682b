package bundle

import (
	"errors"
	"slices"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

var cheapDES = pkcs12.LegacyDES.WithIterations(1)

// FuzzDecode checks that Decode never panics, fails only with an *Error
// of a decode code, and on success returns a bundle whose leaf carries its
// key and which survives Encode and Decode with the same thumbprint.
func FuzzDecode(f *testing.F) {
	// Seeds are the test fixtures built with one KDF iteration and a P-256
	// leaf: the same structures, but cheaper to execute and smaller, so
	// that fuzzing is not spent in key derivation, and minimizing a new
	// input (quadratic in its size) ends sooner.
	x := kit{tb: f, iter: 1, key: testkit.P256Key}
	for _, fx := range append(x.goodFixtures(), x.badFixtures()...) {
		f.Add(fx.pfx, fx.password)
	}
	decodeCodes := []Code{CodeMalformed, CodeTooLarge, CodeKDFIterations, CodePassword, CodeNoKey, CodeKeyMismatch, CodeWeakKey}
	f.Fuzz(func(t *testing.T, pfx []byte, password string) {
		b, err := Decode(pfx, password)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(decodeCodes, e.Code) || e.Message == "" {
				t.Fatalf("Decode() error = %#v, want an *Error with a decode code and a message", err)
			}
			return
		}
		checkBundle(t, b)
		// Encode's code path with one KDF iteration instead of 2048: the
		// round trip would otherwise dominate every successful execution.
		out, err := b.encodeWith(cheapDES, "fuzz")
		if err != nil {
			t.Fatalf("Encode(): %v", err)
		}
		back, err := Decode(out, "fuzz")
		if err != nil {
			t.Fatalf("Decode(Encode()): %v", err)
		}
		if back.Thumbprint() != b.Thumbprint() {
			t.Fatalf("round trip thumbprint = %s, want %s", back.Thumbprint(), b.Thumbprint())
		}
	})
}
