//go:build tools

// Package tools pins nsc, the NATS operator-mode account tool, that the
// docs test (docs/docs_test.go) runs the operator/JWT story of
// docs/onboarding.md with. A module of its own, like tools/natscli;
// `make nsc` builds it into ~/.cache/certrotator.
package tools

import _ "github.com/nats-io/nsc/v2"
