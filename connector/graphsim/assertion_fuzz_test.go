package graphsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

// FuzzParseJWT feeds arbitrary assertions to every check the token
// endpoint runs on one: none may panic, and none may accept a signature
// from an arbitrary string.
func FuzzParseJWT(f *testing.F) {
	for _, seed := range []string{
		"", "a.b.c", "..", "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln",
		"eyJhbGciOiJQUzI1NiIsIng1YyI6WyJBQUFBIl19.eyJhdWQiOlsieCJdLCJleHAiOiIxZTMwMCJ9.",
		"eyJ4NXQjUzI1NiI6Ij09PSJ9.eyJuYmYiOi0xZTMwOX0.AA",
	} {
		f.Add(seed)
	}
	key, err := rsa.GenerateKey(rand.Reader, 1024) // #nosec G403 -- a fuzz target only needs a key shape
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		f.Fatal(err)
	}
	app := &appCredentials{certs: []*x509.Certificate{cert}, subjects: []trustedSubject{{subject: "x", roots: x509.NewCertPool()}}}
	f.Fuzz(func(t *testing.T, raw string) {
		j, err := parseJWT(raw)
		if err != nil {
			return
		}
		_ = j.audiences()
		_ = j.timeProblem(time.Now())
		_ = j.thumbprintHex()
		if j.verify(&key.PublicKey) {
			t.Errorf("an arbitrary assertion verified against a fresh key: %q", raw)
		}
		_, _ = appKey(j, app, "c", time.Now())
		_, _ = appKey(j, nil, "c", time.Now())
	})
}
