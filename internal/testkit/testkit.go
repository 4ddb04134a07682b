// Package testkit holds what certrotator's tests share: an embedded NATS
// server with JetStream, free loopback ports, a goroutine-safe log buffer
// and PKCS#12 generators. It is imported by _test.go files only.
package testkit

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// WaitTimeout bounds every wait in tests; generous, as -race on two cores
// is slow.
const WaitTimeout = 20 * time.Second

// NATS starts a JetStream server on dir (a new temp dir when empty),
// listening on a free loopback port, and shuts it down at the end of the
// test.
func NATS(tb testing.TB, dir string) *server.Server {
	tb.Helper()
	return NATSWith(tb, func(o *server.Options) {
		if dir != "" {
			o.StoreDir = dir
		}
	})
}

// NATSWith is NATS with options changed by mod first (users, permissions,
// a store directory). With ExternalServerEnv set it starts that binary
// instead, when it can pass the options on (external.go).
func NATSWith(tb testing.TB, mod func(*server.Options)) *server.Server {
	tb.Helper()
	opts := &server.Options{
		JetStream: true, StoreDir: tb.TempDir(), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
	}
	if mod != nil {
		mod(opts)
	}
	if bin := os.Getenv(ExternalServerEnv); bin != "" {
		if s, ok := startExternal(tb, bin, opts); ok {
			return s
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("creating NATS server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Connect opens a client connection to s, closed at the end of the test.
func Connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connecting to NATS: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeAddr is 127.0.0.1:<FreePort>.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(tb)))
}

// LogBuffer is an io.Writer for slog handlers that tests read while the
// code under test writes from other goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
