//go:build !linux

package vaultdev

import "os/exec"

// setProcAttr does nothing outside Linux, which has no parent-death signal:
// a parent killed without stopping it leaves its dev server running.
func setProcAttr(*exec.Cmd) {}
