package bus_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestEmbeddedServerListens: with no URL and a listen address, Open starts
// an embedded server that accepts clients on it; Close shuts it down.
func TestEmbeddedServerListens(t *testing.T) {
	t.Parallel()
	b, err := bus.Open(context.Background(), bus.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "replica 1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := b.Server()
	if srv == nil || srv.Addr() == nil {
		t.Fatal("embedded server does not listen")
	}
	if !b.Conn().IsConnected() {
		t.Error("not connected to the embedded server")
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Error("embedded server still running after Close")
	}
	if !b.Conn().IsClosed() {
		t.Error("owned connection still open after Close")
	}
}

// TestEmbeddedBusyPortFailsAtOnce: a taken nats.listen fails Open with the
// OS's words, not after a readiness wait.
func TestEmbeddedBusyPortFailsAtOnce(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = bus.Open(context.Background(), bus.Options{StoreDir: t.TempDir(), Listen: taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("open on a busy port = %v, want the OS's words", err)
	}
}

// TestOpenHonoursCancel: an Open whose context ends gives up instead of
// waiting for a server that is slow to come up.
func TestOpenHonoursCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, err := bus.Open(ctx, bus.Options{StoreDir: t.TempDir()})
	if err == nil {
		_ = b.Close(context.Background())
		t.Fatal("open with a cancelled context succeeded")
	}
}

func TestOpenFailsWithoutServer(t *testing.T) {
	t.Parallel()
	if b, err := bus.Open(context.Background(), bus.Options{URL: "nats://127.0.0.1:1"}); err == nil {
		_ = b.Close(context.Background())
		t.Fatal("Open against no server: no error")
	}
}

func TestEmbeddedNeedsStoreDir(t *testing.T) {
	t.Parallel()
	_, err := bus.Open(context.Background(), bus.Options{})
	if err == nil || !strings.Contains(err.Error(), "nats.store_dir") {
		t.Fatalf("open embedded without a store = %v, want an error naming nats.store_dir", err)
	}
}

// TestGivenConnStaysOpen: a bus over the caller's connection leaves it
// open on Close.
func TestGivenConnStaysOpen(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, ""))
	b, err := bus.Open(context.Background(), bus.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if nc.IsClosed() || b.Server() != nil {
		t.Fatal("Close closed the caller's connection")
	}
}

// TestDialedWithCredentials: Open dials the URL with the given user; a
// wrong password is refused at Open.
func TestDialedWithCredentials(t *testing.T) {
	t.Parallel()
	s := testkit.NATSWith(t, func(o *server.Options) { o.Username, o.Password = "worker", "worker-pass" })
	b, err := bus.Open(context.Background(), bus.Options{URL: s.ClientURL(), User: "worker", Password: "worker-pass", Name: "certrotator/test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if !b.Conn().IsConnected() || b.Server() != nil {
		t.Fatal("not connected to the dialed server")
	}
	if b2, err := bus.Open(context.Background(), bus.Options{URL: s.ClientURL(), User: "worker", Password: "wrong"}); err == nil {
		_ = b2.Close(context.Background())
		t.Fatal("a wrong password was accepted")
	}
}
