package vaultsrc

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

func TestDecodePFX(t *testing.T) {
	t.Parallel()
	// rawPFX starts as a real PKCS#12 file does (SEQUENCE, long length,
	// version 3) and holds '-' and '_' bytes, which once made it look like
	// URL-safe base64.
	rawPFX := append([]byte{0x30, 0x82, 0x05, 0xdc, 0x02, 0x01, 0x03, '-', '_'}, testPFX...)
	std := base64.StdEncoding.EncodeToString(testPFX)
	wrapped := wrap(std, 64)
	short := []byte("ab") // padded to "YWI="
	tests := []struct {
		name     string
		value    any
		want     []byte
		wantCode string
		wantMsg  string
	}{
		{name: "standard", value: std, want: testPFX},
		{name: "wrapped lines", value: wrapped, want: testPFX},
		{name: "CRLF and indent", value: "  " + strings.ReplaceAll(wrapped, "\n", "\r\n\t"), want: testPFX},
		{name: "no padding", value: strings.TrimRight(base64.StdEncoding.EncodeToString(short), "="), want: short},
		{name: "padding", value: base64.StdEncoding.EncodeToString(short), want: short},
		{name: "url-safe", value: base64.URLEncoding.EncodeToString(testPFX), wantCode: CodeMalformed, wantMsg: "URL-safe"},
		{name: "raw PKCS#12", value: string(rawPFX), wantCode: CodeMalformed, wantMsg: "holds raw PKCS#12 bytes, not base64: store the output of `base64 -w0`"},
		{name: "raw PKCS#12 through JSON", value: strings.ToValidUTF8(string(rawPFX), "\uFFFD"), wantCode: CodeMalformed,
			wantMsg: "holds raw PKCS#12 bytes, not base64: store the output of `base64 -w0`"},
		{name: "too large", value: strings.Repeat("QUJD", bundle.Base64SizeMax/4+1), wantCode: string(bundle.CodeTooLarge), wantMsg: "over the limit"},
		{name: "pem", value: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", wantCode: CodeMalformed, wantMsg: "PEM"},
		{name: "garbage", value: "this is not base64!", wantCode: CodeMalformed, wantMsg: "not standard base64"},
		{name: "bad padding", value: "YW=I", wantCode: CodeMalformed, wantMsg: "not standard base64"},
		{name: "empty", value: " \n", wantCode: CodeFieldMissing, wantMsg: "is empty"},
		{name: "number", value: 42.0, wantCode: CodeMalformed, wantMsg: "is a number"},
		{name: "object", value: map[string]any{"a": "b"}, wantCode: CodeMalformed, wantMsg: "is an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, code, err := decodePFX(map[string]any{"pfx": tt.value}, "pfx")
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("decodePFX: %v", err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Errorf("decoded %d bytes, want %d bytes equal to the input", len(got), len(tt.want))
				}
				return
			}
			if err == nil || code != tt.wantCode {
				t.Fatalf("got code %q error %v, want code %q", code, err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), `"pfx"`) {
				t.Errorf("error %q should name the field and say %q", err, tt.wantMsg)
			}
			if s, ok := tt.value.(string); ok && len(s) > 4 && strings.Contains(err.Error(), strings.TrimSpace(s)[:5]) {
				t.Errorf("error %q shows the value", err)
			}
		})
	}
}

func TestDecodePFXMissingFieldListsNames(t *testing.T) {
	t.Parallel()
	_, code, err := decodePFX(map[string]any{"key": "sekrit", "cert": "sekrit"}, "pfx")
	if code != CodeFieldMissing || err == nil {
		t.Fatalf("got code %q error %v, want %s", code, err, CodeFieldMissing)
	}
	if msg := err.Error(); !strings.Contains(msg, `"cert", "key"`) || strings.Contains(msg, "sekrit") {
		t.Errorf("error %q should list the field names and no value", msg)
	}
}

func TestPasswordOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		data    map[string]any
		want    string
		wantErr bool
	}{
		{map[string]any{}, "", false},
		{map[string]any{"password": nil}, "", false},
		{map[string]any{"password": ""}, "", false},
		{map[string]any{"password": " p w "}, " p w ", false}, // kept verbatim
		{map[string]any{"password": "pw\n"}, "pw", false},     // password=@file keeps the file's newline
		{map[string]any{"password": "pw\r\n"}, "pw", false},
		{map[string]any{"password": true}, "", true},
	} {
		got, err := passwordOf(tt.data, "password")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("passwordOf(%v) = %q, %v; want %q, error %v", tt.data, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRefWithDefaults(t *testing.T) {
	t.Parallel()
	got := refWithDefaults(jobs.SourceRef{Path: "/b2c/api/"})
	want := jobs.SourceRef{Mount: "secret", Path: "b2c/api", PFXField: "pfx", PasswordField: "password"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// wrap breaks s into lines of n characters, as base64 without -w0 does.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// testPasswordFromFile: `vault kv put … password=@file` stores the file's
// newline; Fetch drops it by the rule inspect --password-file applies
// (bundle.PasswordFromText), so the worker and inspect agree.
func testPasswordFromFile(t *testing.T, srv *vaulttest.Server) {
	srv.PutBundle(t, "secret", "b2c/password-file", testPFX, "s3cret-pw\n")
	c, _ := tokenClient(t, srv, srv.Token)
	m, err := c.Fetch(testContext(t), ref("b2c/password-file"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if m.Password != "s3cret-pw" {
		t.Errorf("password %q, want the file's newline dropped", m.Password)
	}
}
