package sync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"
)

// localDir maps a server folder to its directory in the store and the
// path the store opens it by, or says why it cannot be mapped safely. The
// store escapes names reversibly and refuses "", ".", ".." and NUL; the
// check that the result lies inside the root is a second line of defence.
// A folder whose name has the personal namespace prefix keeps its old
// local name (with the prefix) where an older run created it (see
// legacyDir); then the path is the full one.
func (e *engine) localDir(f *imapconn.Folder) (string, []string, error) {
	if f.Unusable != nil {
		return "", nil, f.Unusable
	}
	path := f.Path
	if e.opt.Store == nil {
		return "", path, nil
	}
	dir, err := e.opt.Store.FolderDir(path)
	if err != nil {
		return "", nil, err
	}
	if old, ok := e.legacyDir(f, dir); ok {
		path, dir = f.Full, old
	}
	rel, err := filepath.Rel(e.opt.Store.Root(), dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", nil, fmt.Errorf("folder %q maps to %s, outside the Maildir %s", f.Name, dir, e.opt.Store.Root())
	}
	return dir, path, nil
}

// legacyDir returns the directory an older mailfetch gave a folder whose
// path now lacks the namespace prefix, when that one is still to be used:
// the folder's new directory does not exist, and its old one does, or the
// old one of a parent folder does while that parent's new one does not,
// or any folder with the prefix exists locally (with the fs layout, the
// prefix's own directory: an older run made "INBOX/" a Maildir next to
// INBOX; with Maildir++, a ".INBOX.*" directory). So an account synced
// before keeps all its local names, new folders included, and an account
// synced first now gets names without the prefix.
func (e *engine) legacyDir(f *imapconn.Folder, dir string) (string, bool) {
	if f.Full == nil || isDir(dir) {
		return "", false
	}
	st := e.opt.Store
	old, err := st.FolderDir(f.Full)
	if err != nil {
		return "", false
	}
	pre := f.Full[:len(f.Full)-len(f.Path)]
	for n := len(f.Path); n >= 1; n-- {
		o, err1 := st.FolderDir(append(slices.Clone(pre), f.Path[:n]...))
		c, err2 := st.FolderDir(f.Path[:n])
		if err1 == nil && err2 == nil && isDir(o) && !isDir(c) {
			return old, true
		}
	}
	// Any folder under the prefix: the directory names of the prefix's
	// folders all start as a probe's does.
	probe, err := st.FolderDir(append(slices.Clone(pre), "x"))
	if err != nil {
		return "", false
	}
	root := filepath.Clean(st.Root())
	if parent := filepath.Dir(probe); parent != root {
		return old, isDir(parent)
	}
	stem := strings.TrimSuffix(filepath.Base(probe), "x")
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", false
	}
	for _, ent := range entries {
		if ent.IsDir() && len(ent.Name()) > len(stem) && strings.HasPrefix(ent.Name(), stem) {
			return old, true
		}
	}
	return "", false
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
