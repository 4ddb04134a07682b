package vaulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

const (
	// startAttempts bounds the retries when another process takes the
	// chosen port between picking it and Vault binding it.
	startAttempts = 5
	// startTimeout bounds the wait for a healthy server; generous because
	// CI machines run many test binaries at once.
	startTimeout = 60 * time.Second
	// healthPoll is the pause between two sys/health probes.
	healthPoll = 50 * time.Millisecond
)

// errPortTaken says the dev server could not bind its port.
var errPortTaken = errors.New("vaulttest: port already in use")

// Start runs a Vault dev server and returns it once it is initialized and
// unsealed. tb's cleanup kills it and waits for it to exit; its output is
// logged only when tb failed.
//
// The binary is $CERTROTATOR_VAULT when set, else bin/vault in the module
// root (found by walking up from the working directory to go.mod), else
// vault on PATH. Start fails tb when there is none, or when the server does
// not become healthy within a minute.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binary(tb)
	for attempt := 1; ; attempt++ {
		srv, err := start(tb, bin)
		if err == nil {
			return srv
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			tb.Fatalf("starting vault dev server (%s): %v", bin, err)
		}
	}
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

// start runs one dev server on a fresh port and waits for it to be healthy.
func start(tb testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	token := uuid.NewString()
	p, err := launch(bin, token, port, tb.TempDir())
	if err != nil {
		return nil, err
	}
	addr := "http://" + net.JoinHostPort("127.0.0.1", port)
	if err := waitHealthy(addr, p.exited); err != nil {
		p.stop()
		if strings.Contains(p.out.String(), "address already in use") {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w; server output:\n%s", err, p.out.String())
	}
	root, hc, err := newAPIClient(addr, token)
	if err != nil {
		p.stop()
		return nil, err
	}
	tb.Cleanup(func() {
		hc.CloseIdleConnections()
		p.stop()
		if tb.Failed() {
			tb.Logf("vault dev server %s output:\n%s", addr, p.out.String())
		}
	})
	return &Server{Addr: addr, Token: token, root: root}, nil
}

// process is a running vault server.
type process struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed once cmd.Wait returned
}

// launch starts the dev server. HOME points at an empty directory and every
// VAULT_* variable is dropped, so the server neither reads a developer's
// settings nor writes ~/.vault-token.
func launch(bin, token, port, home string) (*process, error) {
	cmd := exec.Command(bin, "server", "-dev", "-dev-no-store-token",
		"-dev-root-token-id="+token,
		"-dev-listen-address="+net.JoinHostPort("127.0.0.1", port))
	cmd.Env = childEnv(home)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // do not hang on pipes a stray child holds
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a killed dev server says nothing
		close(p.exited)
	}()
	return p, nil
}

// stop kills the process and waits for it to exit. It is idempotent.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill() // fails only when it already exited
	<-p.exited
}

// childEnv is the current environment minus VAULT_* with HOME replaced.
func childEnv(home string) []string {
	env := []string{"HOME=" + home}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort asks the kernel for a free loopback port whose successor is free
// too: the dev server binds its cluster listener on port+1. Another process
// may take either before Vault binds them; Start retries then.
func freePort() (string, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("picking a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			next.Close()
			return strconv.Itoa(port), nil
		}
	}
	return "", errors.New("picking a free port: found no two free consecutive ports")
}

// waitHealthy polls sys/health until the server says it is initialized and
// unsealed, the process exits, or startTimeout passes.
func waitHealthy(addr string, exited <-chan struct{}) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	for {
		if healthy(hc, addr) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("vault exited before becoming healthy")
		case <-deadline.C:
			return fmt.Errorf("vault not healthy after %s", startTimeout)
		case <-tick.C:
		}
	}
}

// healthy reports whether sys/health answers initialized and unsealed.
func healthy(hc *http.Client, addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/sys/health", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Initialized bool `json:"initialized"`
		Sealed      bool `json:"sealed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return false
	}
	return resp.StatusCode == http.StatusOK && h.Initialized && !h.Sealed
}

// syncBuffer is a bytes.Buffer safe for the process's writes and our reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
