package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// devVault is a `vault server -dev` child process for the local demo.
type devVault struct {
	addr  string
	token string
	cmd   *exec.Cmd
	out   bytes.Buffer
	done  chan struct{}
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

// startDevVault starts a dev server on a free loopback port with a random
// root token and waits until it is unsealed.
func startDevVault(ctx context.Context, bin string) (*devVault, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	v := &devVault{addr: "http://127.0.0.1:" + strconv.Itoa(port), token: uuid.NewString(), done: make(chan struct{})}
	v.cmd = exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+v.token,
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port))
	v.cmd.Env = append(os.Environ(), "VAULT_DEV_ROOT_TOKEN_ID=", "VAULT_ADDR=")
	v.cmd.Stdout, v.cmd.Stderr = &v.out, &v.out
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = v.cmd.Wait(); close(v.done) }()
	if err := v.waitReady(ctx); err != nil {
		v.stop()
		return nil, fmt.Errorf("waiting for vault dev server: %w\n%s", err, v.out.String())
	}
	return v, nil
}

func (v *devVault) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.done:
			return errors.New("vault exited")
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(v.addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("not ready after 30s")
}

// stop ends the dev server and waits for it, so Ctrl-C leaves nothing behind.
func (v *devVault) stop() {
	if v.cmd.Process == nil {
		return
	}
	_ = v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.done:
	case <-time.After(10 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
