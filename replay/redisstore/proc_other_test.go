//go:build !linux

package redisstore

import "os/exec"

func setProcAttr(*exec.Cmd) {}
