package testkit

import (
	"cmp"
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
)

// OpenBus opens a bus as o says and closes it at the end of the test
// (after the cleanups registered later, such as a worker's Stop).
func OpenBus(tb testing.TB, o bus.Options) *bus.Bus {
	tb.Helper()
	b, err := bus.Open(context.Background(), o)
	if err != nil {
		tb.Fatalf("opening the bus: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// BusOn is a bus over a connection the test already has (never closed by
// the bus).
func BusOn(tb testing.TB, nc *nats.Conn) *bus.Bus {
	tb.Helper()
	return OpenBus(tb, bus.Options{Conn: nc})
}

// ConfigBus opens the bus a config file's nats section describes, as
// `certrotator run` does (cmd/certrotator/busopts.go maps it; its test
// keeps BusOptions the same).
func ConfigBus(tb testing.TB, c *config.Config) *bus.Bus {
	tb.Helper()
	return OpenBus(tb, BusOptions(c))
}

// BusOptions maps a config's nats section into bus options, as cmd does.
func BusOptions(c *config.Config) bus.Options {
	n := c.NATS
	return bus.Options{
		Name: "certrotator/" + c.Instance, URL: n.URL,
		User: n.User, Password: n.Password, Token: n.Token, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile,
		InboxPrefix: n.InboxPrefix, TLS: bus.TLS{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile},
		StoreDir: cmp.Or(n.StoreDir, config.StoreDirDefault), Listen: n.Listen, ServerName: c.Instance,
	}
}
