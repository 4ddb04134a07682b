package vaultdev

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the server when its parent dies without
// stopping it (a test timeout, a crash, a killed demo), so that no dev
// server outlives the process that started it.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
