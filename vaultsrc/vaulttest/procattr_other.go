//go:build !linux

package vaulttest

import "os/exec"

// setProcAttr does nothing outside Linux, which has no parent-death signal:
// a test binary killed without cleanup leaves its dev server running.
func setProcAttr(*exec.Cmd) {}
