//go:build !unix

package dovetest

import "syscall"

// Dovecot runs on Unix only; these keep the package compiling elsewhere,
// where StartServer reports ErrNotInstalled.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(int) {}

func processAlive(int) bool { return false }
