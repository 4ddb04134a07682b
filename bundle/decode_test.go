package bundle

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

func TestDecodeSizeCap(t *testing.T) {
	t.Parallel()
	huge := func(n int) []byte { return append([]byte{0x30, 0x84, 0, 0, 0, 0}, make([]byte, n-6)...) }
	tests := []struct {
		name string
		pfx  []byte
		code Code
	}{
		{"over the cap", huge(SizeMax + 1), CodeTooLarge},
		{"at the cap", huge(SizeMax), CodeMalformed}, // read, and found wanting
	}
	for _, tt := range tests {
		_, err := Decode(tt.pfx, testPassword)
		if e, ok := errors.AsType[*Error](err); !ok || e.Code != tt.code {
			t.Errorf("%s: Decode() error = %v, want code %s", tt.name, err, tt.code)
		}
	}
	// The cap leaves real bundles room: an RSA leaf with two CAs.
	k := testkit.RSA2048Key(t)
	c := testkit.TwoTier(t)
	real := testkit.EncodePFX(t, pkcs12.LegacyDES, k, issue(t, leafSpec{key: k}), []*x509.Certificate{c.Inter.Cert, c.Root.Cert}, testPassword)
	if len(real)*20 > SizeMax {
		t.Errorf("a real bundle of %d bytes is within 20x of SizeMax (%d)", len(real), SizeMax)
	}
}

func TestCheckBase64Size(t *testing.T) {
	t.Parallel()
	if err := CheckBase64Size(Base64SizeMax); err != nil {
		t.Errorf("CheckBase64Size(Base64SizeMax) = %v, want nil", err)
	}
	err := CheckBase64Size(Base64SizeMax + 1)
	if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeTooLarge {
		t.Fatalf("CheckBase64Size(Base64SizeMax+1) = %v, want code %s", err, CodeTooLarge)
	}
	// Base64SizeMax admits the base64 of SizeMax bytes wrapped at 64
	// characters with CRLF, the widest common form.
	if n := (SizeMax + 2) / 3 * 4; n+n/64*2 > Base64SizeMax {
		t.Errorf("Base64SizeMax = %d, under %d", Base64SizeMax, n+n/64*2)
	}
}

// TestDecodeContextStopsBeforeDerivation checks that a done context stops
// the decode after the structural pass, before the MAC is checked: a
// wrong password is not even noticed.
func TestDecodeContextStopsBeforeDerivation(t *testing.T) {
	t.Parallel()
	x := kit{tb: t, iter: 1, key: testkit.P256Key}
	_, _, modern := x.modern()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, pfx := range [][]byte{modern, berifyDeep(t, modern, testPassword)} {
		_, err := DecodeContext(ctx, pfx, "wrong")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("DecodeContext(canceled) error = %v, want context.Canceled", err)
		}
		if _, ok := errors.AsType[*Error](err); ok {
			t.Errorf("DecodeContext(canceled) = %v, a bundle problem; want only the context's error", err)
		}
		if _, err := DecodeContext(t.Context(), pfx, testPassword); err != nil {
			t.Errorf("DecodeContext(live context): %v", err)
		}
	}
}

// TestDecodeWipesItsCopies checks that the buffers a decode fills with the
// file's bytes (the authenticated safe, normalized and rebuilt copies) or
// the password are recorded and zeroed, and that the caller's bytes are
// left alone.
func TestDecodeWipesItsCopies(t *testing.T) {
	t.Parallel()
	x := kit{tb: t, iter: 1, key: testkit.P256Key}
	c := testkit.TwoTier(t)
	leaf, k, modern := x.modern()
	for _, tc := range []struct {
		name    string
		pfx     []byte
		rebuilt bool
	}{
		{"DER", modern, false},
		{"BER throughout", berifyDeep(t, modern, testPassword), true},
		{"three safe contents", x.buildPFX(testPassword, macBMP, plain(t, x.shroudedKeyBag(k, testPassword)),
			plain(t, certBags(t, c.Inter.Cert)...), plain(t, certBags(t, leaf)...)), true},
	} {
		orig := bytes.Clone(tc.pfx)
		f, e := parsePFX(tc.pfx)
		if e != nil {
			t.Fatalf("%s: %v", tc.name, e)
		}
		in, e := f.decoderInput(testPassword)
		if e != nil {
			t.Fatalf("%s: %v", tc.name, e)
		}
		if !owns(f.bufs, f.macked) {
			t.Errorf("%s: the authenticated safe copy is not recorded", tc.name)
		}
		if tc.rebuilt && !owns(f.bufs, in) {
			t.Errorf("%s: the rebuilt copy is not recorded", tc.name)
		}
		bufs := f.bufs
		f.wipe()
		for i, b := range bufs {
			if !allZero(b) {
				t.Errorf("%s: buffer %d of %d (%d bytes) not zeroed", tc.name, i, len(bufs), len(b))
			}
		}
		if !bytes.Equal(tc.pfx, orig) {
			t.Errorf("%s: the caller's bytes changed", tc.name)
		}
		if _, err := Decode(tc.pfx, testPassword); err != nil || !bytes.Equal(tc.pfx, orig) {
			t.Errorf("%s: Decode() = %v, or changed the caller's bytes", tc.name, err)
		}
	}
}

// owns reports whether b is one of bufs (the same memory, not equal bytes).
func owns(bufs [][]byte, b []byte) bool {
	for _, o := range bufs {
		if len(o) > 0 && len(b) > 0 && &o[0] == &b[0] {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestPKCS12KDFKeepsPassword(t *testing.T) {
	t.Parallel()
	h, _ := classicMACHash(oidSHA1)
	password, _ := encodeBMP(testPassword)
	orig := bytes.Clone(password)
	a := pkcs12KDF(h, []byte("salt"), password, 2, 1, 24)
	b := pkcs12KDF(h, []byte("salt"), password, 2, 1, 24)
	if !bytes.Equal(a, b) || len(a) != 24 || allZero(a) {
		t.Errorf("pkcs12KDF() = %x then %x, want the same 24 bytes", a, b)
	}
	if !bytes.Equal(password, orig) {
		t.Errorf("pkcs12KDF() changed its password argument")
	}
}

// TestJudgeFileBase64 checks the two diagnoses of base64 text: a file is
// encoded once (inspect), bytes from the Vault field twice (Decode).
func TestJudgeFileBase64(t *testing.T) {
	t.Parallel()
	k := testkit.P256Key(t)
	pfx := testkit.EncodePFX(t, pkcs12.LegacyDES.WithIterations(1), k, issue(t, leafSpec{key: k}), nil, testPassword)
	text := []byte(base64.StdEncoding.EncodeToString(pfx))
	r := JudgeFile(text, testPassword, testNow, minValidity)
	if r.Verdict != VerdictReject || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "base64 -d") ||
		strings.Contains(r.Problems[0].Message, "twice") {
		t.Errorf("JudgeFile(base64 once) = %+v, want a rejection saying to decode it", r)
	}
	if _, err := Decode(text, testPassword); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("Decode(base64 text) error = %v, want it to say encoded twice", err)
	}
	if r := JudgeFile(pfx, testPassword, testNow, minValidity); r.Verdict != VerdictOK {
		t.Errorf("JudgeFile(binary) = %+v, want ok", r)
	}
	r = JudgeFile(make([]byte, Base64SizeMax+1), "", testNow, minValidity)
	if len(r.Problems) != 1 || r.Problems[0].Code != CodeTooLarge || !strings.Contains(r.Problems[0].Message, "more than") {
		t.Errorf("JudgeFile(huge) = %+v, want one %s problem", r, CodeTooLarge)
	}
}
