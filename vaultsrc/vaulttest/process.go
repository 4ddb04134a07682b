package vaulttest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/certrotator/certrotator/internal/vaultdev"
)

// Start runs a Vault dev server (package internal/vaultdev, which the demo
// uses too) and returns it once it is initialized and unsealed. tb's
// cleanup stops it and waits for it to exit; its output is logged only
// when tb failed.
//
// The binary is $CERTROTATOR_VAULT when set, else bin/vault in the module
// root (found by walking up from the working directory to go.mod), else
// vault on PATH. Start fails tb when there is none, or when the server does
// not become healthy within a minute.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binary(tb)
	p, err := vaultdev.Start(context.Background(), bin, tb.TempDir())
	if err != nil {
		tb.Fatalf("%v", err)
	}
	root, hc, err := newAPIClient(p.Addr, p.Token)
	if err != nil {
		p.Stop()
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		hc.CloseIdleConnections()
		p.Stop()
		if tb.Failed() {
			tb.Logf("vault dev server %s output:\n%s", p.Addr, p.Output())
		}
	})
	return &Server{Addr: p.Addr, Token: p.Token, root: root}
}

// binary finds the vault executable as Start documents.
func binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CERTROTATOR_VAULT"); p != "" {
		return p
	}
	if root, ok := moduleRoot(); ok {
		p := filepath.Join(root, "bin", "vault")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p
	}
	tb.Fatalf("vault binary not found: run make vault")
	return ""
}

// moduleRoot walks up from the working directory to the one holding go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Binary is the vault executable Start runs, for tests that run the vault
// CLI (the scripts of deploy/vault) against the server.
func Binary(tb testing.TB) string {
	tb.Helper()
	return binary(tb)
}
