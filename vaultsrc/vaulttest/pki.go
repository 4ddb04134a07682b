package vaulttest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/hashicorp/vault/api"
)

// PKIOptions shape the CA that EnablePKI builds. The zero value gives an RSA
// 2048 role "b2c-api" at mount "pki" that issues any name under
// "example.com" for up to 30 days.
type PKIOptions struct {
	// Mount is where the intermediate CA (the one that issues) is mounted;
	// the root goes to Mount+"-root". Defaults to "pki".
	Mount string
	// Role is the issuing role. Defaults to "b2c-api".
	Role string
	// Domain is the role's allowed domain (subdomains allowed). Defaults to
	// "example.com".
	Domain string
	// KeyType and KeyBits are the role's key. Default to "rsa" and 2048.
	KeyType string
	KeyBits int
	// MaxTTL is the role's longest lifetime, e.g. "720h". Defaults to "720h".
	MaxTTL string
}

// PKI is a CA hierarchy on the dev server: a root CA, an intermediate CA
// signed by it, and a role on the intermediate.
type PKI struct {
	Mount        string // the intermediate's mount: issue at Mount+"/issue/"+Role
	RootMount    string
	Role         string
	Root         *x509.Certificate
	Intermediate *x509.Certificate
}

// Roots returns a pool holding the root CA, to verify issued chains.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// EnablePKI mounts a root CA and an intermediate CA signed by it, and a role
// on the intermediate, as opts says. Parallel tests use distinct mounts.
func (s *Server) EnablePKI(tb testing.TB, opts PKIOptions) *PKI {
	tb.Helper()
	opts = pkiDefaults(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
	defer cancel()
	p := &PKI{Mount: opts.Mount, RootMount: opts.Mount + "-root", Role: opts.Role}
	for _, m := range []string{p.RootMount, p.Mount} {
		err := s.root.Sys().MountWithContext(ctx, m, &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}})
		if err != nil {
			tb.Fatalf("mounting pki at %s: %v", m, err)
		}
	}
	root := s.write(ctx, tb, p.RootMount+"/root/generate/internal", map[string]any{
		"common_name": "certrotator test root CA", "key_type": "ec", "key_bits": 256, "ttl": "87600h"})
	p.Root = parseCert(tb, root.Data["certificate"])
	csr := s.write(ctx, tb, p.Mount+"/intermediate/generate/internal", map[string]any{
		"common_name": "certrotator test issuing CA", "key_type": "ec", "key_bits": 256})
	signed := s.write(ctx, tb, p.RootMount+"/root/sign-intermediate", map[string]any{
		"csr": csr.Data["csr"], "format": "pem_bundle", "ttl": "43800h"})
	p.Intermediate = parseCert(tb, signed.Data["certificate"])
	s.write(ctx, tb, p.Mount+"/intermediate/set-signed", map[string]any{"certificate": signed.Data["certificate"]})
	s.write(ctx, tb, p.Mount+"/roles/"+p.Role, map[string]any{
		"allowed_domains": opts.Domain, "allow_subdomains": true, "allow_bare_domains": true,
		"key_type": opts.KeyType, "key_bits": opts.KeyBits, "max_ttl": opts.MaxTTL,
		"client_flag": true, "server_flag": false, "no_store": false,
	})
	return p
}

// Revoked reports whether the certificate with serial (as Vault writes it)
// is revoked, from <mount>/cert/<serial>'s revocation_time.
func (s *Server) Revoked(tb testing.TB, mount, serial string) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	sec, err := s.root.Logical().ReadWithContext(ctx, mount+"/cert/"+serial)
	if err != nil || sec == nil {
		tb.Fatalf("reading %s/cert/%s: %v", mount, serial, err)
	}
	switch t := sec.Data["revocation_time"].(type) {
	case nil:
		return false
	case interface{ Int64() (int64, error) }:
		n, _ := t.Int64()
		return n > 0
	default:
		return true
	}
}

func pkiDefaults(o PKIOptions) PKIOptions {
	if o.Mount == "" {
		o.Mount = "pki"
	}
	if o.Role == "" {
		o.Role = "b2c-api"
	}
	if o.Domain == "" {
		o.Domain = "example.com"
	}
	if o.KeyType == "" {
		o.KeyType, o.KeyBits = "rsa", 2048
	}
	if o.MaxTTL == "" {
		o.MaxTTL = "720h"
	}
	return o
}

// write is a root write that fails tb on error.
func (s *Server) write(ctx context.Context, tb testing.TB, path string, data map[string]any) *api.Secret {
	tb.Helper()
	sec, err := s.root.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		tb.Fatalf("writing %s: %v", path, err)
	}
	if sec == nil {
		sec = &api.Secret{Data: map[string]any{}}
	}
	return sec
}

// parseCert parses the first PEM certificate of v (a string).
func parseCert(tb testing.TB, v any) *x509.Certificate {
	tb.Helper()
	s, _ := v.(string)
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		tb.Fatalf("no PEM certificate in vault's answer")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatalf("parsing certificate: %v", err)
	}
	return c
}
