// Package vaulttest runs a real Vault dev server for tests: one process per
// call to Start, in memory, on a free loopback port, stopped when the test
// ends. It is for tests only; production code never imports it.
//
// The binary is the one `make vault` links to bin/vault (see Start). Tests
// that need Vault fail, never skip, when it is missing.
package vaulttest

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// requestTimeout bounds every call the helpers make to the dev server.
const requestTimeout = 30 * time.Second

// Server is a running Vault dev server. KV v2 is mounted at "secret/".
// Its methods may be called from parallel tests.
type Server struct {
	// Addr is the server's base URL, e.g. "http://127.0.0.1:41234".
	Addr string
	// Token is the root token.
	Token string

	root *api.Client
}

// Client returns a new API client for the server authenticated with the
// root token. Callers may change its token; its idle connections are closed
// when tb ends.
func (s *Server) Client(tb testing.TB) *api.Client {
	tb.Helper()
	c, hc, err := newAPIClient(s.Addr, s.Token)
	if err != nil {
		tb.Fatalf("creating vault client: %v", err)
	}
	tb.Cleanup(hc.CloseIdleConnections)
	return c
}

// Put writes data as a new version of the KV v2 secret mount/path and
// returns the version number Vault gave it.
func (s *Server) Put(tb testing.TB, mount, path string, data map[string]any) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	kv, err := s.root.KVv2(mount).Put(ctx, path, data)
	if err != nil {
		tb.Fatalf("writing %s/%s: %v", mount, path, err)
	}
	return kv.VersionMetadata.Version
}

// PutBundle writes a bundle as an operator would: field "pfx" holds the
// standard base64 of pfx and field "password" the password. It returns the
// new version number.
func (s *Server) PutBundle(tb testing.TB, mount, path string, pfx []byte, password string) int {
	tb.Helper()
	return s.Put(tb, mount, path, map[string]any{
		"pfx":      base64.StdEncoding.EncodeToString(pfx),
		"password": password,
	})
}

// TokenWithPolicy writes the ACL policy policyHCL under name and returns a
// new token holding that policy and the default one.
func (s *Server) TokenWithPolicy(tb testing.TB, name, policyHCL string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := s.root.Sys().PutPolicyWithContext(ctx, name, policyHCL); err != nil {
		tb.Fatalf("writing policy %s: %v", name, err)
	}
	secret, err := s.root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{name}})
	if err != nil {
		tb.Fatalf("creating token with policy %s: %v", name, err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		tb.Fatalf("creating token with policy %s: vault returned no token", name)
	}
	return secret.Auth.ClientToken
}

// newAPIClient builds a client that ignores VAULT_* environment variables,
// so that a developer's shell cannot point tests at another Vault. It also
// returns the HTTP client, whose idle connections the caller closes so that
// goleak sees no stray goroutines.
func newAPIClient(addr, token string) (*api.Client, *http.Client, error) {
	hc := &http.Client{Transport: &http.Transport{}}
	c, err := api.NewClient(&api.Config{Address: addr, HttpClient: hc, Timeout: requestTimeout})
	if err != nil {
		return nil, nil, err
	}
	c.SetToken(token)
	c.ClearNamespace()
	return c, hc, nil
}
