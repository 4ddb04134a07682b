//go:build tools

// Package tools pins golangci-lint, which `make lint` builds into the cache
// (keyed by version) so the product's go.mod carries none of its modules.
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
