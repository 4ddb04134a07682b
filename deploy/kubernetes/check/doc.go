// Package check holds the tests that keep deploy/kubernetes honest: every
// manifest decodes strictly into the real Kubernetes API types, the config
// in the ConfigMap validates with its secrets stood in, and the probes,
// ports and paths match what the binary serves. It has no non-test code.
package check
