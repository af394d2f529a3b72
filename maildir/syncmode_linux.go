package maildir

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the file system holding f (syncfs(2)).
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }

// wholeFSTypes are the file systems whose syncfs(2) is known to write
// back every dirty file and commit its metadata, and to report writeback
// errors (through the superblock's errseq, Linux 5.8 on): local, journaled
// or copy-on-write, with a sync_fs of their own. tmpfs holds nothing
// durable; syncfs there costs nothing, as fsync does. Anything else (NFS,
// CIFS, FUSE, overlayfs, ...) may flush less or report nothing, and keeps
// an fsync per file.
var wholeFSTypes = map[int64]string{
	unix.EXT4_SUPER_MAGIC:  "ext2/3/4", // one magic for the three
	unix.XFS_SUPER_MAGIC:   "xfs",
	unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.TMPFS_MAGIC:       "tmpfs",
}

// probeFileSystem returns the device of dir and the mode its file system
// takes, with the reason.
func probeFileSystem(dir string) (dev uint64, mode syncMode, why string, err error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, 0, "", fmt.Errorf("stat %s: %w", dir, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return 0, 0, "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	mode, why = syncModeFor(int64(sfs.Type), kernelRelease())
	return st.Dev, mode, why, nil
}

// syncModeFor decides the mode of a file system from its statfs type and
// the kernel release.
func syncModeFor(fsType int64, release string) (syncMode, string) {
	name, known := wholeFSTypes[fsType]
	if !known {
		return syncEachFile, fmt.Sprintf("file system type %#x", fsType)
	}
	if !syncfsReportsErrors(release) {
		return syncEachFile, fmt.Sprintf("%s on Linux %q: syncfs reports no writeback errors before 5.8", name, release)
	}
	return syncWholeFS, fmt.Sprintf("%s on Linux %s", name, release)
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// syncfsReportsErrors reports whether a kernel release ("6.1.0-18-amd64")
// is 5.8 or later: before, syncfs(2) returned 0 even when writing a file
// back failed, which would publish a message whose bytes are lost. An
// unreadable release counts as too old.
func syncfsReportsErrors(release string) bool { return kernelAtLeast(release, 5, 8) }
