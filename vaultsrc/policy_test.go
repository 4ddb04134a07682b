package vaultsrc

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/hashicorp/vault/api"
)

// testShippedPolicy applies deploy/vault/policy.hcl as it ships, binds a
// token to it alone (as the login roles do with token_no_default_policy),
// and checks that every call the worker makes passes and calls outside the
// policy are denied.
func testShippedPolicy(t *testing.T, srv *vaulttest.Server) {
	hcl, err := os.ReadFile(filepath.Join("..", "deploy", "vault", "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki", Role: "b2c-api"})
	srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-other", Role: "b2c-api"})
	ctx := testContext(t)
	root := srv.Client(t)
	if err := root.Sys().PutPolicyWithContext(ctx, "certrotator", string(hcl)); err != nil {
		t.Fatalf("writing the shipped policy: %v", err)
	}
	s, err := root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
		Policies: []string{"certrotator"}, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tokenClient(t, srv, s.Auth.ClientToken)
	if err := c.Start(ctx); err != nil { // lookup-self and renew-self
		t.Fatal(err)
	}

	// Everything a PKI job's run does.
	r := ref("b2c/policy")
	if h, err := c.Versions(ctx, r); err != nil || h.Current != 0 {
		t.Fatalf("Versions: %+v, %v", h, err)
	}
	iss, err := c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com", TTL: time.Hour})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	nv := jobs.NewVersion{Material: jobs.Material{PFX: testPFX, Password: "pw"}, Serial: iss.Serial, NotAfter: time.Now().Add(time.Hour), Issuer: "CN=x"}
	if _, err := c.Write(ctx, r, 0, nv); err != nil {
		t.Fatalf("Write cas 0: %v", err)
	}
	if _, err := c.Write(ctx, r, 1, nv); err != nil {
		t.Fatalf("Write cas 1: %v", err)
	}
	if h, err := c.Versions(ctx, r); err != nil || h.Current != 2 || h.Versions[0].Serial != iss.Serial {
		t.Fatalf("Versions after writes: %+v, %v; want 2 versions, the serial in metadata", h, err)
	}
	pinned := r
	pinned.Version = 1
	if _, err := c.Fetch(ctx, pinned); err != nil {
		t.Fatalf("Fetch version 1: %v", err)
	}
	if err := c.Revoke(ctx, pki.Mount, iss.Serial); err != nil {
		t.Fatalf("Revoke: %v", err)
	}

	// And nothing else.
	srv.PutBundle(t, "secret", "other/bundle", testPFX, "")
	denied := map[string]error{}
	_, denied["read outside b2c/"] = c.Fetch(ctx, jobs.SourceRef{Mount: "secret", Path: "other/bundle"})
	_, denied["issue from another mount"] = c.Issue(ctx, jobs.PKIRef{Mount: "pki-other", Role: "b2c-api", CommonName: "api.example.com"})
	_, denied["write outside b2c/"] = c.Write(ctx, jobs.SourceRef{Mount: "secret", Path: "other/new"}, 0, nv)
	denied["change max_versions"] = c.api.KVv2("secret").PatchMetadata(ctx, "b2c/policy", api.KVMetadataPatchInput{MaxVersions: new(int)})
	denied["delete versions"] = c.api.KVv2("secret").DeleteVersions(ctx, "b2c/policy", []int{1})
	denied["destroy metadata"] = c.api.KVv2("secret").DeleteMetadata(ctx, "b2c/policy")
	_, denied["revoke on another mount"] = c.api.Logical().WriteWithContext(ctx, "pki-other/revoke", map[string]any{"serial_number": iss.Serial})
	_, denied["read a policy"] = c.api.Logical().ReadWithContext(ctx, "sys/policies/acl/certrotator")
	for name, err := range denied {
		if !isDenied(err) {
			t.Errorf("%s: got %v, want 403 permission denied", name, err)
		}
	}
}
