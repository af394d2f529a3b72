//go:build !linux

package maildir

import (
	"io/fs"
	"time"
)

// changed is a file's modification time (the change time is read on Linux
// only).
func changed(fi fs.FileInfo) time.Time { return fi.ModTime() }
