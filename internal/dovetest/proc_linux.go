package dovetest

import "syscall"

// sysProcAttr puts the master in a process group of its own (its children
// stay in it: Dovecot does not setsid in the foreground) and has the
// kernel send it SIGTERM should the test process die without Stop.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
