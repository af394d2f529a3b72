//go:build unix && !linux

package dovetest

import "syscall"

// sysProcAttr puts the master in a process group of its own; see the
// Linux variant.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
