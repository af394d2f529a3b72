//go:build !linux

package dovetest

import "testing"

// leftovers cannot look at other processes here; the Linux build checks.
func leftovers(*Server) []string { return nil }

func fileOwnerUID(t *testing.T, path string) int {
	t.Skip("owner check is Linux-only")
	return 0
}
