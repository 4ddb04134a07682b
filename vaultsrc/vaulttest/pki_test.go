package vaulttest

import (
	"context"
	"crypto/x509"
	"testing"
	"time"
)

func TestEnablePKI(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	p := srv.EnablePKI(t, PKIOptions{Mount: "pki-ec", KeyType: "ec", KeyBits: 256})
	inter := x509.NewCertPool()
	inter.AddCert(p.Intermediate)
	if _, err := p.Intermediate.Verify(x509.VerifyOptions{Roots: p.Roots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the intermediate is not signed by the root: %v", err)
	}
	if !p.Intermediate.IsCA || p.Intermediate.Subject.String() == p.Root.Subject.String() {
		t.Errorf("intermediate %s (CA %v) is not a distinct CA", p.Intermediate.Subject, p.Intermediate.IsCA)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := srv.Client(t).Logical().WriteWithContext(ctx, p.Mount+"/issue/"+p.Role, map[string]any{"common_name": "a.example.com", "ttl": "1h"})
	if err != nil {
		t.Fatalf("issuing from the role: %v", err)
	}
	leaf := parseCert(t, s.Data["certificate"])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: p.Roots(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not chain to the root: %v", err)
	}
	if s.Data["private_key_type"] != "ec" {
		t.Errorf("role issued a %v key, want ec", s.Data["private_key_type"])
	}
	serial, _ := s.Data["serial_number"].(string)
	if srv.Revoked(t, p.Mount, serial) {
		t.Fatalf("fresh certificate reported revoked")
	}
	srv.write(ctx, t, p.Mount+"/revoke", map[string]any{"serial_number": serial})
	if !srv.Revoked(t, p.Mount, serial) {
		t.Errorf("revoked certificate not reported revoked")
	}
}
