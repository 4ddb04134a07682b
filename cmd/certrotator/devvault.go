package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/certrotator/certrotator/internal/vaultdev"
)

// devVault is the demo's `vault server -dev` child process, started by
// package internal/vaultdev as the tests start theirs.
type devVault struct {
	addr  string
	token string
	srv   *vaultdev.Server // nil for a server the caller started
}

// findVault returns the vault binary the demo runs: the flag's, the one on
// PATH (most Vault users have it), or the pinned build in bin/vault.
func findVault(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	if p, err := filepath.Abs(filepath.Join("bin", "vault")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no vault binary on PATH or in bin/vault: run make vault")
}

// startDevVault starts a dev server on a free loopback port pair with a
// random root token, HOME at home (so no ~/.vault-token is written), and
// waits until it is unsealed.
func startDevVault(ctx context.Context, bin, home string) (*devVault, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", home, err)
	}
	srv, err := vaultdev.Start(ctx, bin, home)
	if err != nil {
		return nil, err
	}
	return &devVault{addr: srv.Addr, token: srv.Token, srv: srv}, nil
}

// stop ends the dev server and waits for it, so Ctrl-C leaves nothing behind.
func (v *devVault) stop() {
	if v.srv != nil {
		v.srv.Stop()
	}
}
