//go:build tools

// Package tools pins the Vault server that the tests and `certrotator dev`
// start as `vault server -dev`. It is a module of its own so that Vault's
// few hundred dependencies stay out of certrotator's go.mod.
package tools

import _ "github.com/hashicorp/vault"
