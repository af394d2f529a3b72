package maildir

import (
	"fmt"
	"os"
	"sync"
)

// syncMode is how the bytes of staged messages are made durable before
// Publish renames them (see "Durability modes" in the package comment).
type syncMode int

const (
	// syncEachFile fsyncs every file as soon as Stage has written it, in
	// the store's pool of fsyncSlots; Publish waits for them.
	syncEachFile syncMode = iota + 1
	// syncWholeFS writes files without an fsync; Publish makes all of
	// them durable at once with one syncfs(2) of their file system.
	syncWholeFS
)

func (m syncMode) String() string {
	switch m {
	case syncEachFile:
		return "fsync per file"
	case syncWholeFS:
		return "syncfs per batch"
	}
	return fmt.Sprintf("syncMode(%d)", int(m))
}

// fileSystem is one file system (one device number) that a Store delivers
// to, and how it makes deliveries durable there. The mode is decided once,
// when the first folder on the device is opened.
type fileSystem struct {
	mode  syncMode
	why   string // what the mode was decided on, for tests and debugging
	seams *seams // the Store's

	// In the syncWholeFS mode, fdMu guards dir, outstanding and staged.
	// dir is a directory on the file system (a folder's tmp/), opened
	// before any of the outstanding files was created and held while
	// there are any: syncfs(2) reports the writeback errors of the file
	// system since the descriptor it is given was opened (Linux 5.8,
	// errseq), so a descriptor opened after a file was written could miss
	// the error that lost it. outstanding counts the files staged and
	// not yet published or removed; when it drops to 0 dir is closed (a
	// Store holds no descriptor between runs, nor keeps a file system
	// from being unmounted), and the next Stage opens a fresh one.
	// staged numbers the files Stage starts, before it creates them.
	fdMu        sync.Mutex
	dir         *os.File
	outstanding int
	staged      uint64

	mu sync.Mutex // held across a syncfs and the update of failedThrough
	// failedThrough: every file numbered up to it was started before a
	// syncfs reported a writeback error, and is taken to be damaged. A
	// descriptor reports an error once, to the first syncfs after it:
	// when two Publish calls run at once, the second's syncfs succeeds
	// even if the error hit its files. So the error is kept here, for
	// every file that might be the one the kernel failed to write.
	failedThrough uint64
	failedErr     error
}

// syncStaged makes the files of staged durable, or fails them: one
// syncfs(2) per file system in syncWholeFS mode; files of other modes are
// left alone (their fsyncs ran in Stage). A file whose syncfs failed, or
// that was started before another syncfs failed, gets its syncErr set;
// Publish then removes it instead of renaming it.
func syncStaged(staged []*Staged) {
	var systems []*fileSystem
	byFS := map[*fileSystem][]*Staged{}
	for _, st := range staged {
		if st == nil || st.folder == nil || st.folder.fs.mode != syncWholeFS {
			continue
		}
		st.mu.Lock()
		pending := st.state == stagedWritten && st.syncErr == nil
		st.mu.Unlock()
		if !pending {
			continue
		}
		fsys := st.folder.fs
		if byFS[fsys] == nil {
			systems = append(systems, fsys)
		}
		byFS[fsys] = append(byFS[fsys], st)
	}
	for _, fsys := range systems {
		failedThrough, ferr := fsys.sync()
		for _, st := range byFS[fsys] {
			if st.seq > failedThrough {
				continue
			}
			st.mu.Lock()
			st.syncErr = localErr(fmt.Errorf("maildir: deliver into %s: %w", st.folder.tmpDir, ferr))
			st.mu.Unlock()
		}
	}
}

// begin is called by Stage before it creates a file in tmpDir (a tmp/ on
// this file system): it makes sure a descriptor opened before the file is
// held, and numbers the file. Each begin that succeeded is followed by
// one end.
func (fsys *fileSystem) begin(tmpDir string) (uint64, error) {
	fsys.fdMu.Lock()
	defer fsys.fdMu.Unlock()
	if fsys.dir == nil {
		d, err := os.Open(tmpDir)
		if err != nil {
			return 0, err
		}
		fsys.dir = d
	}
	fsys.outstanding++
	fsys.staged++
	return fsys.staged, nil
}

// end is called when a file begun is renamed into new/ or cur/ for good,
// or removed.
func (fsys *fileSystem) end() {
	fsys.fdMu.Lock()
	defer fsys.fdMu.Unlock()
	if fsys.outstanding--; fsys.outstanding == 0 {
		fsys.dir.Close()
		fsys.dir = nil
	}
}

// sync runs one syncfs on the file system and returns the number through
// which files are failed, with the error that failed them.
func (fsys *fileSystem) sync() (uint64, error) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	fsys.fdMu.Lock()
	dir := fsys.dir
	if dir == nil {
		// Nothing staged (the caller's files were discarded meanwhile).
		fsys.fdMu.Unlock()
		return fsys.failedThrough, fsys.failedErr
	}
	fsys.outstanding++ // dir stays open through the syncfs
	fsys.fdMu.Unlock()
	defer fsys.end()
	if err := fsys.seams.fsSync(dir); err != nil {
		// Any file started so far may have been written back, and
		// failed, before this syncfs returned.
		fsys.fdMu.Lock()
		fsys.failedThrough = fsys.staged
		fsys.fdMu.Unlock()
		fsys.failedErr = fmt.Errorf("syncfs: %w", unwrapPath(err))
	}
	return fsys.failedThrough, fsys.failedErr
}

// fileSystemOf returns the file system of a folder's tmp/ directory,
// deciding its mode when it is the first folder there. s.mu is held.
func (s *Store) fileSystemOf(tmpDir string) *fileSystem {
	dev, mode, why, err := probeFileSystem(tmpDir)
	if err != nil {
		// Unknown: fsync each file, and decide again for the next
		// folder.
		return &fileSystem{mode: syncEachFile, why: err.Error(), seams: &s.seams}
	}
	if fsys := s.fileSystems[dev]; fsys != nil {
		return fsys
	}
	if s.seams.mode != 0 {
		mode, why = s.seams.mode, "forced by a test"
	}
	fsys := &fileSystem{mode: mode, why: why, seams: &s.seams}
	s.fileSystems[dev] = fsys
	return fsys
}
