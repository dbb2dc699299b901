//go:build unix && !linux

package interop

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the server in its own process group, so that killProcess
// reaches anything it spawned.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcess(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
