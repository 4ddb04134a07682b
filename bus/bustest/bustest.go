// Package bustest opens buses for tests: over a connection a test already
// has, or as a config file's nats section says (as cmd does). It is
// imported by _test.go files only; it is apart from internal/testkit so
// that the packages config imports can use testkit in their own tests.
package bustest

import (
	"cmp"
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
)

// Open opens a bus as o says and closes it at the end of the test
// (after the cleanups registered later, such as a worker's Stop).
func Open(tb testing.TB, o bus.Options) *bus.Bus {
	tb.Helper()
	b, err := bus.Open(context.Background(), o)
	if err != nil {
		tb.Fatalf("opening the bus: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// On is a bus over a connection the test already has (never closed by
// the bus).
func On(tb testing.TB, nc *nats.Conn) *bus.Bus {
	tb.Helper()
	return Open(tb, bus.Options{Conn: nc})
}

// Config opens the bus a config file's nats section describes, as
// `certrotator run` does (cmd/certrotator/busopts.go maps it; its test
// keeps Options the same).
func Config(tb testing.TB, c *config.Config) *bus.Bus {
	tb.Helper()
	return Open(tb, Options(c))
}

// Options maps a config's nats section into bus options, as cmd does.
func Options(c *config.Config) bus.Options {
	n := c.NATS
	return bus.Options{
		Name: "certrotator/" + c.Instance, URL: n.URL,
		User: n.User, Password: n.Password, Token: n.Token, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile,
		InboxPrefix: n.InboxPrefix, TLS: bus.TLS{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile},
		StoreDir: cmp.Or(n.StoreDir, config.StoreDirDefault), Listen: n.Listen, ServerName: c.Instance,
	}
}
