package interop

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the server in its own process group, so that killProcess
// reaches anything it spawned, and has the kernel kill it if the test binary
// dies before its cleanups run.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcess(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
