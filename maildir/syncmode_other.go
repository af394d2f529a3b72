//go:build !linux

package maildir

import (
	"errors"
	"os"
	"syscall"
)

// syncFS is syncfs(2), which only Linux has; no file system takes the
// syncWholeFS mode elsewhere unless a test forces it.
func syncFS(*os.File) error { return errors.ErrUnsupported }

// probeFileSystem returns the device of dir and the mode its file system
// takes: outside Linux, always an fsync per file.
func probeFileSystem(dir string) (dev uint64, mode syncMode, why string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, 0, "", err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		dev = uint64(st.Dev)
	}
	return dev, syncEachFile, "no syncfs(2) outside Linux", nil
}
