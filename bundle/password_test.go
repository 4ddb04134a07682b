package bundle

import (
	"errors"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestPasswordNewline: a password written with `password=@file` keeps the
// file's newline. PasswordFromText (the rule of inspect and the worker)
// drops it, and a password that still holds one is refused with an error
// that names the line break, never the password.
func TestPasswordNewline(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	pfx := testkit.EncodePFX(t, pkcs12.Modern2023.WithIterations(1), k, issue(t, leafSpec{key: k}), nil, testPassword)
	for _, raw := range []string{testPassword + "\n", testPassword + "\r\n"} {
		if _, err := Decode(pfx, PasswordFromText(raw)); err != nil {
			t.Errorf("Decode(PasswordFromText(%q)) = %v, want the file opened", raw, err)
		}
		_, err := Decode(pfx, raw)
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Code != CodePassword || !strings.Contains(e.Message, "line break") || strings.Contains(e.Message, testPassword) {
			t.Errorf("Decode(%q) = %v, want %s naming the line break, not the password", raw, err, CodePassword)
		}
	}
	if got := PasswordFromText(" pw "); got != " pw " {
		t.Errorf("PasswordFromText kept %q, want spaces kept", got)
	}
	_, err := Decode(pfx, "wrong")
	if e, ok := errors.AsType[*Error](err); !ok || strings.Contains(e.Message, "line break") {
		t.Errorf("a plain wrong password: %v, want no word of a line break", err)
	}
}
