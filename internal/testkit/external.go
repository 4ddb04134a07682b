package testkit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ExternalServerEnv names a nats-server binary. When it is set, NATS and
// NATSWith start that binary as a process of its own instead of the
// embedded server, so that a package's tests run against another server
// version (`make test-nats-oldest` sets it to the oldest supported one).
const ExternalServerEnv = "CERTROTATOR_NATS_SERVER"

// External reports whether NATS starts an external nats-server binary.
func External() bool { return os.Getenv(ExternalServerEnv) != "" }

// SkipIfExternal skips a test that needs the embedded server itself (its
// Go API, or a worker that embeds one) when ExternalServerEnv is set.
func SkipIfExternal(tb testing.TB) {
	tb.Helper()
	if External() {
		tb.Skipf("needs the embedded nats-server; %s is set", ExternalServerEnv)
	}
}

// startExternal starts the binary bin with what opts asks for (a loopback
// port, JetStream on opts.StoreDir, a user and password, a max payload) and
// returns a handle to it: a *server.Server that is never started, whose
// ClientURL names the external process, so that tests written against
// the embedded server connect to it unchanged. The process stops at the end
// of the test; the handle's Shutdown does not stop it. ok is false when
// opts holds something the translation does not cover (the caller then
// starts the embedded server).
func startExternal(tb testing.TB, bin string, opts *server.Options) (*server.Server, bool) {
	tb.Helper()
	if reason := untranslated(opts); reason != "" {
		tb.Logf("%s: %s; using the embedded server for this test", ExternalServerEnv, reason)
		return nil, false
	}
	port := FreePort(tb)
	dir := tb.TempDir()
	conf := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(conf, []byte(externalConfig(opts, port)), 0o600); err != nil {
		tb.Fatalf("writing nats-server config: %v", err)
	}
	logBuf := &LogBuffer{}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logBuf, logBuf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() { stopProcess(tb, cmd, exited) })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitListening(addr, exited); err != nil {
		tb.Fatalf("external nats-server %s on %s: %v\n%s", bin, addr, err, logBuf.String())
	}
	handle, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatalf("creating the external server's handle: %v", err)
	}
	return handle, true
}

// untranslated names the first option startExternal cannot pass on.
func untranslated(o *server.Options) string {
	switch {
	case len(o.Users) > 0 || len(o.Nkeys) > 0 || len(o.Accounts) > 0 || o.Authorization != "":
		return "users, nkeys and accounts are not translated"
	case o.Cluster.Port != 0 || len(o.Routes) > 0 || o.LeafNode.Port != 0 || o.Gateway.Port != 0:
		return "clustering is not translated"
	case o.TLSConfig != nil || o.Websocket.Port != 0:
		return "TLS and websocket are not translated"
	}
	return ""
}

// externalConfig is the nats-server config file for o on port.
func externalConfig(o *server.Options, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:%d\n", port)
	if o.JetStream {
		fmt.Fprintf(&b, "jetstream { store_dir: %q }\n", o.StoreDir)
	}
	if o.Username != "" {
		fmt.Fprintf(&b, "authorization { user: %q, password: %q }\n", o.Username, o.Password)
	}
	if o.MaxPayload > 0 {
		fmt.Fprintf(&b, "max_payload: %d\n", o.MaxPayload)
	}
	if o.ServerName != "" {
		fmt.Fprintf(&b, "server_name: %q\n", o.ServerName)
	}
	return b.String()
}

// waitListening waits until addr accepts a connection, or the process
// exits, or WaitTimeout passes.
func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(WaitTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before listening: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("not listening in time")
		}
		time.Sleep(10 * time.Millisecond) // an external process's port: no event to wait on
	}
}

// stopProcess asks the server to stop (SIGTERM lets it flush JetStream) and
// kills it when it does not in time.
func stopProcess(tb testing.TB, cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		tb.Logf("external nats-server did not stop on SIGTERM in 10s; killed")
	}
}
