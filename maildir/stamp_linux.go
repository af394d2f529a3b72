package maildir

import (
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// multigrainFSTypes are the file systems that take multigrain timestamps
// from Linux 6.13 on: once a process has read an inode's times, its next
// change is stamped with the fine-grained clock.
//
// One statfs magic stands for ext2, ext3 and ext4; a kernel that mounts
// ext2 with its own old driver (rare: distributions let ext4 serve it)
// stamps coarsely, which could at worst delay the upload of a flag change
// made within one clock tick of a sync until the folder next changes.
var multigrainFSTypes = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true,
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
	unix.TMPFS_MAGIC:       true,
}

var multigrainKernel = sync.OnceValue(func() bool { return kernelAtLeast(kernelRelease(), 6, 13) })

func dirStamp(dir string) (DirStamp, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return DirStamp{}, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return DirStamp{}, &fs.PathError{Op: "stat", Path: dir, Err: unix.ENOTDIR}
	}
	return DirStamp{Dev: uint64(st.Dev), Ino: st.Ino, Changed: st.Ctim.Nano()}, nil
}

func stampPrecision(dir string) precision {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return stampUntrusted
	}
	t := int64(sfs.Type)
	switch {
	case multigrainFSTypes[t] && multigrainKernel():
		return stampExact
	case wholeFSTypes[t] != "":
		return stampCoarse
	}
	return stampUntrusted
}

// kernelAtLeast reports whether a kernel release ("6.1.0-18-amd64") is
// major.minor or later; an unreadable release is not.
func kernelAtLeast(release string, major, minor int) bool {
	maj, rest, _ := strings.Cut(release, ".")
	mnr := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mnr = rest[:i]
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(mnr)
	if err1 != nil || err2 != nil {
		return false
	}
	return a > major || a == major && b >= minor
}
