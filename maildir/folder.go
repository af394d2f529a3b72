package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Folder is one Maildir of a Store: a directory with tmp/, new/ and cur/.
// It is a Target. It is safe for concurrent use.
type Folder struct {
	store                       *Store
	dir, tmpDir, newDir, curDir string
	fs                          *fileSystem // how its deliveries are made durable

	idMu sync.Mutex
	id   string // its identity, once read or given (see ID)
}

// Dir is the folder's directory.
func (f *Folder) Dir() string { return f.dir }

// Entry is a message file found by Scan.
type Entry struct {
	Unique string // the name without info
	Path   string
	Flags  Flags
	New    bool // in new/ rather than cur/
}

// Find looks for the message whose unique name is unique in new/ and
// cur/, by the core of the name: the part before its first ',', which
// identifies the message whatever a mail reader did to the rest (the
// info, moved into cur/; Maildir++ fields such as ",S=" and ",W=" that
// some rewrite). After a crash, a pending delivery is complete exactly
// when Find finds it. ok is false when there is none.
func (f *Folder) Find(unique string) (Entry, bool, error) {
	return findIn(f.dir, unique, false)
}

// UniqueCore is the part of a unique name that identifies the message:
// what comes before the first ','. The unique names of this package
// escape ',' in their host part, so their core is unique.
func UniqueCore(unique string) string {
	core, _, _ := strings.Cut(unique, ",")
	return core
}

// findIn is Find in the Maildir folder at dir; with missingOK a missing
// new/ or cur/ holds nothing.
func findIn(dir, unique string, missingOK bool) (Entry, bool, error) {
	if unique == "" || strings.ContainsAny(unique, ":/\x00") {
		return Entry{}, false, fmt.Errorf("maildir: find %q: not a unique name", unique)
	}
	newDir, curDir := filepath.Join(dir, "new"), filepath.Join(dir, "cur")
	// Our deliveries into new/ carry no info: one stat finds them.
	p := filepath.Join(newDir, unique)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
		return Entry{Unique: unique, Path: p, New: true}, true, nil
	}
	core := UniqueCore(unique)
	for _, d := range []string{newDir, curDir} {
		var found Entry
		ok := false
		err := eachName(d, func(name string) bool {
			if n, err := ParseName(name); err == nil && UniqueCore(n.Unique) == core {
				found, ok = Entry{Unique: n.Unique, Path: filepath.Join(d, name), Flags: n.Flags, New: d == newDir}, true
				return false
			}
			return true
		})
		if err != nil && !(missingOK && errors.Is(err, fs.ErrNotExist)) {
			return Entry{}, false, localErr(fmt.Errorf("maildir: find %s: %w", unique, err))
		}
		if ok {
			return found, true, nil
		}
	}
	return Entry{}, false, nil
}

// eachName calls fn with the names in dir, in chunks so that a folder of
// 100,000 messages is not held in memory, until fn returns false.
func eachName(dir string, fn func(name string) bool) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, unwrapPath(err))
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		for _, name := range names {
			if !fn(name) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", dir, unwrapPath(err))
		}
	}
}

// Scan lists the messages in new/ and cur/, sorted by path. Hidden files
// and names that are not Maildir names are skipped.
func (f *Folder) Scan() ([]Entry, error) {
	return scanIn(f.dir, false)
}

// scanIn is Scan of the Maildir folder at dir; with missingOK a missing
// new/ or cur/ holds nothing.
func scanIn(dir string, missingOK bool) ([]Entry, error) {
	var out []Entry
	for _, sub := range []string{"new", "cur"} {
		d := filepath.Join(dir, sub)
		err := eachName(d, func(name string) bool {
			if n, err := ParseName(name); err == nil {
				out = append(out, Entry{Unique: n.Unique, Path: filepath.Join(d, name), Flags: n.Flags, New: sub == "new"})
			}
			return true
		})
		if err != nil && !(missingOK && errors.Is(err, fs.ErrNotExist)) {
			return nil, localErr(fmt.Errorf("maildir: scan %s: %w", dir, err))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// SetFlags gives the message at path (in this folder's new/ or cur/) the
// flags, moving it into cur/ with a ":2,<flags>" info, and returns its new
// path. When the file is gone (a mail client read, flagged or removed it
// meanwhile) the error matches fs.ErrNotExist: Find it again by its unique
// name. Whatever other info the name had after the flags is kept. The
// rename never replaces a file. It is not fsynced: after a crash the
// message has its old name or its new one (on file systems without
// renameat2, where link and unlink stand in, possibly both).
func (f *Folder) SetFlags(path string, flags Flags) (string, error) {
	base, err := f.ownFile(path)
	if err != nil {
		return "", err
	}
	n, err := ParseName(base)
	if err != nil {
		return "", err
	}
	n.Flags, n.HasInfo = ParseFlags(string(flags)), true
	if !strings.HasPrefix(n.Info, "2,") {
		n.Info = "" // an experimental info gives way to the flags
	}
	dest := filepath.Join(f.curDir, n.String())
	if dest == path {
		return path, nil
	}
	if err := renameNoReplace(path, dest); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("maildir: set flags of %s: not found (renamed or removed meanwhile): %w", path, fs.ErrNotExist)
		}
		return "", localErr(fmt.Errorf("maildir: set flags of %s: %w", path, err))
	}
	return dest, nil
}

// Remove deletes the message at path (in this folder's new/ or cur/).
// A file that is gone already gives an error matching fs.ErrNotExist.
func (f *Folder) Remove(path string) error {
	if _, err := f.ownFile(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("maildir: remove %s: not found (renamed or removed meanwhile): %w", path, fs.ErrNotExist)
		}
		return localErr(fmt.Errorf("maildir: remove %s: %w", path, unwrapPath(err)))
	}
	return nil
}

// ownFile checks that path is a message file of this folder and returns
// its base name: SetFlags and Remove must not touch anything else.
func (f *Folder) ownFile(path string) (string, error) { return ownFile(f.dir, path) }

// ownFile checks that path is in the new/ or cur/ of the Maildir folder
// at dir and returns its base name.
func ownFile(dir, path string) (string, error) {
	parent, base := filepath.Split(path)
	parent = filepath.Clean(parent)
	if (parent != filepath.Join(dir, "new") && parent != filepath.Join(dir, "cur")) || base == "" {
		return "", fmt.Errorf("maildir: %s is not a message file of %s", path, dir)
	}
	return base, nil
}

// CleanTmp removes the files in tmp/ that have not changed for maxAge: the
// leftovers of deliveries that crashed. The spec asks for 36 hours, which
// Store.Folder uses on a folder's first opening. Age is taken from the
// later of the modification and the status change time: Stage sets a
// message's modification time into the past, the change time it cannot.
// It returns how many files it removed.
func (f *Folder) CleanTmp(maxAge time.Duration) (int, error) {
	d, err := os.Open(f.tmpDir)
	if err != nil {
		return 0, localErr(fmt.Errorf("maildir: clean %s: %w", f.tmpDir, unwrapPath(err)))
	}
	defer d.Close()
	cutoff := time.Now().Add(-maxAge)
	removed := 0
	var errs []error
	for {
		entries, rerr := d.ReadDir(1024)
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // gone meanwhile
			}
			if changed(fi).After(cutoff) {
				continue
			}
			p := filepath.Join(f.tmpDir, e.Name())
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", e.Name(), unwrapPath(err)))
				continue
			}
			removed++
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			errs = append(errs, unwrapPath(rerr))
			break
		}
	}
	if len(errs) > 0 {
		return removed, localErr(fmt.Errorf("maildir: clean %s: %w", f.tmpDir, errors.Join(errs...)))
	}
	return removed, nil
}
