package maildir

import (
	"fmt"
	"path/filepath"
	"time"
)

// A Stamp tells whether a folder's messages could have changed since it
// was taken: it holds the identity and the last change time (ctime, which
// no program can set back) of the folder's new/ and cur/. Creating,
// renaming or removing a message file in either directory changes the
// directory's times, so a mail reader that marks a message read, flags it
// or deletes it changes the Stamp. Changes inside a message file that
// leave its name alone do not.
//
// A Stamp is only as good as the file system's timestamps: see ReadStamp.
type Stamp struct {
	New, Cur DirStamp
}

// DirStamp is the identity and change time of one directory.
type DirStamp struct {
	Dev, Ino uint64
	Changed  int64 // nanoseconds since the epoch
}

// settleTime is how old a directory's change time must be before a Stamp
// of it is trusted on a file system that stamps changes with the coarse,
// once-per-tick clock (a tick is at most 10 ms): a change in the same tick
// after the Stamp was taken would get the same time and go unseen.
const settleTime = time.Second

// ReadStamp returns the Stamp of the Maildir folder in dir, and whether it
// can be trusted: whether every later change to new/ or cur/ is sure to
// give a different Stamp. That holds on Linux 6.13 and later on ext4, xfs,
// btrfs and tmpfs, whose multigrain timestamps give the next change after
// a stat(2) a fine-grained, strictly later time; on other local file
// systems of Linux (see wholeFSTypes) once both directories last changed
// more than settleTime ago; and never elsewhere (network file systems
// take the server's clock, and other systems are not known well enough).
func ReadStamp(dir string) (Stamp, bool, error) {
	return readStamp(dir, stampPrecision, settleTime)
}

// readStamp is ReadStamp with the file system's precision and the settle
// time given: tests pretend either.
func readStamp(dir string, precisionOf func(dir string) precision, settleTime time.Duration) (Stamp, bool, error) {
	var s Stamp
	var err error
	now := time.Now()
	if s.New, err = dirStamp(filepath.Join(dir, "new")); err != nil {
		return Stamp{}, false, localErr(fmt.Errorf("maildir: stamp %s: %w", dir, unwrapPath(err)))
	}
	if s.Cur, err = dirStamp(filepath.Join(dir, "cur")); err != nil {
		return Stamp{}, false, localErr(fmt.Errorf("maildir: stamp %s: %w", dir, unwrapPath(err)))
	}
	switch precisionOf(dir) {
	case stampExact:
		return s, true, nil
	case stampCoarse:
		limit := now.Add(-settleTime).UnixNano()
		return s, s.New.Changed < limit && s.Cur.Changed < limit, nil
	}
	return s, false, nil
}

// String encodes the Stamp for a state file: two Stamps are equal exactly
// when their Strings are.
func (s Stamp) String() string {
	return fmt.Sprintf("%d:%d:%d/%d:%d:%d", s.New.Dev, s.New.Ino, s.New.Changed, s.Cur.Dev, s.Cur.Ino, s.Cur.Changed)
}

// precision is how far a file system's directory times can be trusted
// to change with every change.
type precision int

const (
	stampUntrusted precision = iota
	stampCoarse              // changes within one clock tick may share a time
	stampExact               // a change after a stat(2) gets a later time
)
