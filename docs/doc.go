// Package docs holds certrotator's guides (the *.md files here). It has no
// code: its tests run the guides. docs_test.go finds the blocks marked
// with an HTML comment such as <!-- docs-test: run --> and runs them, in
// the order the guides give, against a real Vault dev server, a real
// nats-server, the `nats` CLI pinned in tools/natscli and the Graph
// emulator; the az commands run against their recorded shape
// (testdata/az-shape.json). A guide that no longer matches what the
// commands do fails the test.
package docs
