// Package vaultdev runs `vault server -dev` as a child process: on a free
// loopback port whose successor (the cluster listener's port) is free too,
// with a random root token, a HOME of its own and no VAULT_* variables, and
// waits until it is unsealed. The tests (vaultsrc/vaulttest) and the local
// demo (`certrotator dev`) share it, so both start Vault the same way.
package vaultdev

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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

const (
	// startAttempts bounds the retries when another process takes a port
	// between picking it and Vault binding it.
	startAttempts = 5
	// StartTimeout bounds the wait for a healthy server; generous because
	// CI machines run many test binaries at once.
	StartTimeout = 60 * time.Second
	healthPoll   = 50 * time.Millisecond
)

// errPortTaken says the dev server could not bind one of its ports.
var errPortTaken = errors.New("vaultdev: port already in use")

// Server is a running dev server.
type Server struct {
	Addr  string // http://127.0.0.1:<port>
	Token string // the root token

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// Start runs bin as a dev server with home as its HOME and returns it once
// it is initialized and unsealed. It gives up when ctx ends.
func Start(ctx context.Context, bin, home string) (*Server, error) {
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, bin, home)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			return nil, fmt.Errorf("starting vault dev server (%s): %w", bin, err)
		}
	}
}

func start(ctx context.Context, bin, home string) (*Server, error) {
	port, err := freePortPair()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:   "http://" + net.JoinHostPort("127.0.0.1", port),
		Token:  uuid.NewString(),
		out:    &syncBuffer{},
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "server", "-dev", "-dev-no-store-token",
		"-dev-root-token-id="+s.Token,
		"-dev-listen-address="+net.JoinHostPort("127.0.0.1", port))
	s.cmd.Env = childEnv(home)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.WaitDelay = 5 * time.Second // do not hang on pipes a stray child holds
	setProcAttr(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait() // the exit status of a stopped dev server says nothing
		close(s.exited)
	}()
	if err := s.waitHealthy(ctx); err != nil {
		s.Stop()
		if strings.Contains(s.out.String(), "address already in use") {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w; server output:\n%s", err, s.out.String())
	}
	return s, nil
}

// Output is everything the server printed so far.
func (s *Server) Output() string { return s.out.String() }

// Stop asks the server to stop, kills it after 10s, and waits for it to
// exit. It is idempotent.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// childEnv is the current environment minus VAULT_* with HOME replaced, so
// the server neither reads a developer's settings nor writes ~/.vault-token.
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

// freePortPair asks the kernel for a free loopback port whose successor is
// free too: the dev server binds its cluster listener on port+1. Another
// process may take either before Vault binds them; Start retries then.
func freePortPair() (string, error) {
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
// unsealed, the process exits, ctx ends or StartTimeout passes.
func (s *Server) waitHealthy(ctx context.Context) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.NewTimer(StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	for {
		if healthy(ctx, hc, s.Addr) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.exited:
			return errors.New("vault exited before becoming healthy")
		case <-deadline.C:
			return fmt.Errorf("vault not healthy after %s", StartTimeout)
		case <-tick.C:
		}
	}
}

// healthy reports whether sys/health answers initialized and unsealed.
func healthy(ctx context.Context, hc *http.Client, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
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
