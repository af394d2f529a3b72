package maildir

import (
	"io/fs"
	"syscall"
	"time"
)

// changed is the later of a file's modification and status change times.
func changed(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(st.Ctim.Unix()); c.After(t) {
			return c
		}
	}
	return t
}
