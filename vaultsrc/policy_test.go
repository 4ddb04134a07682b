package vaultsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/hashicorp/vault/api"
)

// shippedPolicyToken writes the policies of deploy/vault named by files,
// as they ship, and returns a token bound to them alone (the login roles set
// token_no_default_policy, so no default policy hides a missing grant).
func shippedPolicyToken(t *testing.T, srv *vaulttest.Server, files ...string) string {
	t.Helper()
	ctx := testContext(t)
	root := srv.Client(t)
	var names []string
	for _, f := range files {
		hcl, err := os.ReadFile(filepath.Join("..", "deploy", "vault", f))
		if err != nil {
			t.Fatal(err)
		}
		name := "shipped-" + strings.TrimSuffix(f, ".hcl")
		if err := root.Sys().PutPolicyWithContext(ctx, name, string(hcl)); err != nil {
			t.Fatalf("writing the shipped policy %s: %v", f, err)
		}
		names = append(names, name)
	}
	s, err := root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: names, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

// wantDenied checks that every call in denied was refused with a 403.
func wantDenied(t *testing.T, denied map[string]error) {
	t.Helper()
	for name, err := range denied {
		if !isDenied(err) {
			t.Errorf("%s: got %v, want 403 permission denied", name, err)
		}
	}
}

// testShippedPolicy: deploy/vault/policy.hcl alone lets a KV job's worker
// do every call it makes (log in and renew, watch, read latest and pinned
// versions, doctor's capabilities check) and nothing else: no write, no
// PKI, no metadata change.
func testShippedPolicy(t *testing.T, srv *vaulttest.Server) {
	ctx := testContext(t)
	r := ref("b2c/policy-kv")
	v1 := srv.PutBundle(t, "secret", r.Path, testPFX, "pw")
	srv.PutBundle(t, "secret", r.Path, testPFX, "pw")
	c, _ := tokenClient(t, srv, shippedPolicyToken(t, srv, "policy.hcl"))
	if err := c.Start(ctx); err != nil { // lookup-self and renew-self
		t.Fatal(err)
	}
	if _, err := c.LookupSelf(ctx); err != nil {
		t.Fatalf("LookupSelf: %v", err)
	}
	if h, err := c.Versions(ctx, r); err != nil || h.Current != 2 {
		t.Fatalf("Versions: %+v, %v", h, err)
	}
	if _, err := c.Fetch(ctx, r); err != nil {
		t.Fatalf("Fetch latest: %v", err)
	}
	pinned := r
	pinned.Version = v1
	if _, err := c.Fetch(ctx, pinned); err != nil {
		t.Fatalf("Fetch version %d: %v", v1, err)
	}
	caps, err := c.Capabilities(ctx, "secret/data/"+r.Path)
	if err != nil || !CanRead(caps["secret/data/"+r.Path]) {
		t.Fatalf("Capabilities (doctor): %v, %v", caps, err)
	}

	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-kvpolicy"})
	srv.PutBundle(t, "secret", "other/bundle", testPFX, "")
	nv := jobs.NewVersion{Material: jobs.Material{PFX: testPFX, Password: "pw"}, Serial: "01", NotAfter: time.Now().Add(time.Hour)}
	denied := map[string]error{}
	_, denied["read outside b2c/"] = c.Fetch(ctx, jobs.SourceRef{Mount: "secret", Path: "other/bundle"})
	_, denied["write a bundle"] = c.Write(ctx, r, 2, nv)
	_, denied["issue"] = c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com"})
	denied["patch metadata"] = c.api.KVv2("secret").PatchMetadata(ctx, r.Path, api.KVMetadataPatchInput{CustomMetadata: map[string]any{"x": "y"}})
	denied["delete versions"] = c.api.KVv2("secret").DeleteVersions(ctx, r.Path, []int{1})
	_, denied["revoke a serial"] = c.api.Logical().WriteWithContext(ctx, pki.Mount+"/revoke", map[string]any{"serial_number": "01"})
	_, denied["read a policy"] = c.api.Logical().ReadWithContext(ctx, "sys/policies/acl/shipped-policy")
	wantDenied(t, denied)
}

// testShippedPKIPolicy: policy.hcl with policy-pki.hcl lets a PKI job's
// worker run its whole path against the dev server (issue, write with
// check-and-set, record metadata, settle, revoke a loser with its key,
// roll out) and refuses pki/revoke and writes to any other path.
func testShippedPKIPolicy(t *testing.T, srv *vaulttest.Server) {
	ctx := testContext(t)
	pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki", Role: "b2c-api"})
	srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-other", Role: "b2c-api"})
	c, _ := tokenClient(t, srv, shippedPolicyToken(t, srv, "policy.hcl", "policy-pki.hcl"))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The path the shipped policy-pki.hcl names, as a job would.
	job := pkiJob("b2c/contoso-api", pki)
	g := newGraphRig(t)
	r, err := jobs.New(jobs.Config{Source: c, Connector: g.conn, Issuer: c, Writer: c, Versions: c})
	if err != nil {
		t.Fatal(err)
	}
	out := r.Rotate(ctx, job, jobs.Request{Job: job.Name, ID: "policy"})
	if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].Certificate.SourceVersion != 1 {
		t.Fatalf("a PKI job's run under the shipped policies: %+v (error %+v), want version 1 issued and uploaded", out, out[0].Error)
	}
	h, err := c.Versions(ctx, job.Source)
	if err != nil || h.Current != 1 || h.Versions[0].Serial == "" {
		t.Fatalf("Versions: %+v, %v; want version 1 with its serial in the custom metadata", h, err)
	}
	// A lost race: the worker revokes its own certificate with its key.
	iss, err := c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com", TTL: time.Hour})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if err := c.Revoke(ctx, pki.Mount, iss); err != nil {
		t.Fatalf("Revoke (revoke-with-key): %v", err)
	}
	if !srv.Revoked(t, pki.Mount, iss.Serial) {
		t.Errorf("serial %s not revoked", iss.Serial)
	}
	caps, err := c.Capabilities(ctx, "secret/data/"+job.Source.Path, pki.Mount+"/issue/"+pki.Role)
	if err != nil || !hasAll(caps["secret/data/"+job.Source.Path], "read", "create", "update") || !hasAll(caps[pki.Mount+"/issue/"+pki.Role], "update") {
		t.Fatalf("Capabilities (doctor): %v, %v", caps, err)
	}

	other, _ := c.Issue(ctx, jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: "api.example.com", TTL: time.Hour})
	nv := jobs.NewVersion{Material: jobs.Material{PFX: testPFX, Password: "pw"}, Serial: "01", NotAfter: time.Now().Add(time.Hour)}
	denied := map[string]error{}
	_, denied["write another KV path under b2c/"] = c.Write(ctx, ref("b2c/someone-elses"), 0, nv)
	_, denied["revoke any serial (pki/revoke)"] = c.api.Logical().WriteWithContext(ctx, pki.Mount+"/revoke", map[string]any{"serial_number": other.Serial})
	_, denied["issue from another mount"] = c.Issue(ctx, jobs.PKIRef{Mount: "pki-other", Role: "b2c-api", CommonName: "api.example.com"})
	_, denied["issue from another role"] = c.api.Logical().WriteWithContext(ctx, pki.Mount+"/issue/other-role", map[string]any{"common_name": "api.example.com"})
	denied["change max_versions"] = c.api.KVv2("secret").PatchMetadata(ctx, job.Source.Path, api.KVMetadataPatchInput{MaxVersions: new(int)})
	denied["delete versions"] = c.api.KVv2("secret").DeleteVersions(ctx, job.Source.Path, []int{1})
	denied["destroy metadata"] = c.api.KVv2("secret").DeleteMetadata(ctx, job.Source.Path)
	wantDenied(t, denied)
	if srv.Revoked(t, pki.Mount, other.Serial) {
		t.Errorf("pki/revoke revoked %s under the shipped policies", other.Serial)
	}
}

// hasAll reports whether caps hold every one of want.
func hasAll(caps []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, c := range caps {
			found = found || c == w || c == "root"
		}
		if !found {
			return false
		}
	}
	return true
}
