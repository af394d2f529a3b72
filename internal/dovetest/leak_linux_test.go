package dovetest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func fileOwnerUID(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// leftovers returns the live processes that belong to s: those in its
// master's process group, and any whose command line names its instance
// (Dovecot titles its processes "dovecot-INSTANCE/imap" and so on) or its
// config. Zombies are not counted: they hold nothing.
func leftovers(s *Server) []string {
	pgid := s.cmd.Process.Pid
	var found []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		dir := filepath.Dir(path)
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
		end := bytes.LastIndexByte(data, ')')
		if end < 0 {
			continue
		}
		f := bytes.Fields(data[end+1:])
		if len(f) < 3 || string(f[0]) == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		pg, _ := strconv.Atoi(string(f[2]))
		if pg == pgid || bytes.Contains(cmdline, []byte(s.instance+"/")) || bytes.Contains(cmdline, []byte(s.Config)) {
			found = append(found, filepath.Base(dir)+" "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return found
}
