package testkit

import (
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestBundlesDecode(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, spec := range map[string]BundleSpec{
		"sha1-3des":   {},
		"aes256":      {Encoder: AES256},
		"rc2":         {Encoder: RC2},
		"no password": {Encoder: NoPassword},
		"rsa":         {Key: RSAKey(t, 2048)},
		"self-signed": {SelfSigned: true},
		"empty":       {EmptyPassword: true, Password: "ignored"},
	} {
		spec.NotBefore, spec.NotAfter = now.Add(-time.Hour), now.Add(90*24*time.Hour)
		b := NewBundle(t, spec)
		if spec.EmptyPassword && b.Password != "" {
			t.Errorf("%s: password %q, want the empty one", name, b.Password)
		}
		key, leaf, chain, err := pkcs12.DecodeChain(b.PFX, b.Password)
		if err != nil {
			t.Errorf("%s: decoding: %v", name, err)
			continue
		}
		if key == nil || Thumbprint(leaf) != b.Thumbprint || len(chain) != map[bool]int{true: 0, false: 1}[spec.SelfSigned] {
			t.Errorf("%s: key %v, thumbprint %s vs %s, chain %d", name, key != nil, Thumbprint(leaf), b.Thumbprint, len(chain))
		}
	}
}
