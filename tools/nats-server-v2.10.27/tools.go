//go:build tools

// Package tools pins the oldest nats-server that certrotator supports
// (docs/nats.md, "Server versions"). `make nats-oldest` builds it from the Go
// module proxy and `make test-nats-oldest` runs the NATS-facing tests against
// it as an external process. It is a module of its own so that this old
// server's dependencies stay out of certrotator's go.mod.
package tools

import _ "github.com/nats-io/nats-server/v2"
