package maildir

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// linkError is an *os.LinkError without the "op old new:" prefix in its
// message: callers say themselves what they renamed.
type linkError struct {
	op, old, new string
	err          error
}

func (e *linkError) Error() string { return e.op + ": " + e.err.Error() }
func (e *linkError) Unwrap() error { return e.err }

// linkRename is the classic Maildir rename without overwriting: link(2)
// fails if newpath exists, then unlink(2) drops the old name. A crash in
// between leaves both names; for a delivery the old one is in tmp/ and is
// cleaned after 36 hours. File systems without hard links (EPERM, e.g.
// FAT, some FUSE ones) get a check then a rename, which only a concurrent
// writer of the very same unique name could race.
func linkRename(oldpath, newpath string) error {
	err := os.Link(oldpath, newpath)
	switch {
	case err == nil:
		if err := os.Remove(oldpath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &linkError{"unlink", oldpath, newpath, unwrapPath(err)}
		}
		return nil
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP):
		if _, err := os.Lstat(newpath); err == nil {
			return &linkError{"rename", oldpath, newpath, fs.ErrExist}
		}
		if err := os.Rename(oldpath, newpath); err != nil {
			return &linkError{"rename", oldpath, newpath, unwrapLink(err)}
		}
		return nil
	}
	return &linkError{"link", oldpath, newpath, unwrapLink(err)}
}

func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
