package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// TestDoctorShippedPolicy runs doctor with a token holding exactly the
// shipped deploy/vault/policy.hcl and nothing else, as the login roles
// issue it (token_no_default_policy=true): the default policy no longer
// hides a missing grant, and doctor's Vault checks pass without a warning.
func TestDoctorShippedPolicy(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	hcl, err := os.ReadFile(filepath.Join("..", "..", "deploy", "vault", "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := s.vault.Client(t)
	if err := root.Sys().PutPolicyWithContext(ctx, "certrotator", string(hcl)); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
		Policies: []string{"certrotator"}, NoDefaultPolicy: true, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	path := s.config(t, doctorCase{token: tok.Auth.ClientToken, conns: []string{s.conn}})
	provision(t, path)
	code, ff, errOut := doctorLines(t, "-c", path, "--read-bundles")
	if code != exitOK {
		t.Fatalf("doctor with the shipped policy: exit %d, stderr %q\n%s", code, errOut, dump(ff))
	}
	seen := 0
	for _, f := range ff {
		if f.Area != "vault" {
			continue
		}
		seen++
		if f.Verdict != verdictOK {
			t.Errorf("%s %s: %s (%s | %s), want ok with exactly the shipped policy", f.Verdict, f.Check, f.Detail, f.Fix, dump(ff))
		}
	}
	if f, ok := find(ff, "vault", "token"); !ok || seen < 3 {
		t.Errorf("doctor checked %d vault things (token %+v), want reachability, the token and the path", seen, f)
	}
}
