package maildir

import (
	"errors"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldpath to newpath, failing with an error that
// matches fs.ErrExist when newpath exists: a delivery never overwrites
// mail. It uses renameat2(RENAME_NOREPLACE), atomic in the kernel; on file
// systems without it (EINVAL: some network and FUSE file systems) it falls
// back to link and unlink.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return linkRename(oldpath, newpath)
	}
	if err != nil {
		return &linkError{"rename", oldpath, newpath, err}
	}
	return nil
}
