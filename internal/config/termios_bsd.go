//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package config

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
