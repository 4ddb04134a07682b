//go:build tools

// Package tools pins the `nats` CLI that the docs test (docs/docs_test.go)
// runs the documented `nats` commands with, against a real nats-server. It
// is a module of its own so that the CLI's dependencies stay out of
// certrotator's go.mod. `make nats-cli` builds it into ~/.cache/certrotator.
package tools

import _ "github.com/nats-io/natscli/nats"
