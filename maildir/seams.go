package maildir

import "os"

// seams are the calls of a Store that tests replace, to inject a fault or
// to pin a decision; the zero value is the real thing. They belong to a
// Store, not to the package, so that tests with faults of their own run
// in parallel. A test sets them on a Store it opened, before the Store's
// first Folder.
type seams struct {
	// syncFile is the fsync of a staged message (the syncEachFile mode).
	syncFile func(*os.File) error
	// syncPublishDir is the fsync of new/ or cur/ after Publish renamed
	// files into it.
	syncPublishDir func(dir string) error
	// syncFS is the syncfs(2) of a file system (the syncWholeFS mode).
	syncFS func(*os.File) error
	// mode, when not 0, is the mode of every file system the Store
	// delivers to, whatever the file system: tests run the same
	// deliveries and faults in both modes.
	mode syncMode
}

func (s *seams) fileSync(f *os.File) error {
	if s.syncFile != nil {
		return s.syncFile(f)
	}
	return f.Sync()
}

func (s *seams) publishDirSync(dir string) error {
	if s.syncPublishDir != nil {
		return s.syncPublishDir(dir)
	}
	return syncDir(dir)
}

func (s *seams) fsSync(f *os.File) error {
	if s.syncFS != nil {
		return s.syncFS(f)
	}
	return syncFS(f)
}
