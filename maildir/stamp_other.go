//go:build !linux

package maildir

import (
	"io/fs"
	"os"
	"syscall"
)

func dirStamp(dir string) (DirStamp, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return DirStamp{}, err
	}
	if !fi.IsDir() {
		return DirStamp{}, &fs.PathError{Op: "stat", Path: dir, Err: syscall.ENOTDIR}
	}
	return DirStamp{Changed: changed(fi).UnixNano()}, nil
}

// stampPrecision: outside Linux, no file system is known well enough.
func stampPrecision(string) precision { return stampUntrusted }
