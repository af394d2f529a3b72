package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MkdirAllDurable creates dir and any missing parents with mode perm, and
// makes each new directory durable: every directory that got a new entry
// (each new directory itself and the parent of the highest new one) is
// fsynced, deepest first. Without it a crash after a complete run can undo
// the creation of a state directory and make its journal unreachable, so
// that the next run fetches everything again. A dir that exists already is
// left alone. Errors are failure.LocalIO.
func MkdirAllDurable(dir string, perm os.FileMode) error {
	return mkdirAllDurable(dir, perm, syncDir)
}

// mkdirAllDurable is MkdirAllDurable with syncNewDir as the fsync of a
// directory it created, or of the parent it created one in: tests see
// which.
func mkdirAllDurable(dir string, perm os.FileMode, syncNewDir func(string) error) error {
	dir = filepath.Clean(dir)
	// The highest missing ancestor: every directory from its parent down
	// gets a new entry and needs an fsync.
	top := ""
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return localErr(fmt.Errorf("maildir: create %s: %s is not a directory", dir, d))
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return localErr(fmt.Errorf("maildir: create %s: %w", dir, unwrapPath(err)))
		}
		top = d
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if top == "" {
		return nil
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return localErr(fmt.Errorf("maildir: create %s: %w", dir, unwrapPath(err)))
	}
	for d := dir; ; d = filepath.Dir(d) {
		if err := syncNewDir(d); err != nil {
			return localErr(err)
		}
		if d == filepath.Dir(top) || d == filepath.Dir(d) {
			return nil
		}
	}
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable. Without it a crash can undo a rename that the
// file's own fsync does not cover (mpop's bug, see DESIGN.md).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("maildir: fsync directory %s: %w", dir, unwrapPath(err))
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildir: fsync directory %s: %w", dir, unwrapPath(err))
	}
	return nil
}

// WriteFileAtomic replaces path with data so that, after a crash at any
// instant, path holds either its old content or data, never a mix: it
// writes a temporary file in the same directory, fsyncs it, renames it over
// path and fsyncs the directory. The file gets mode perm (0600 for state).
// Errors are failure.LocalIO.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, f, err := createTemp(path, perm)
	if err != nil {
		return localErr(fmt.Errorf("maildir: write %s: %w", path, unwrapPath(err)))
	}
	fail := func(op string, err error) error {
		f.Close()
		os.Remove(tmp)
		return localErr(fmt.Errorf("maildir: write %s: %s: %w", path, op, unwrapPath(err)))
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return localErr(fmt.Errorf("maildir: write %s: close: %w", path, unwrapPath(err)))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return localErr(fmt.Errorf("maildir: write %s: rename: %w", path, unwrapPath(err)))
	}
	return localErr(syncDir(filepath.Dir(path)))
}

// StaleTempAge is how old a temporary file of WriteFileAtomic must be to
// be taken for a leftover: a replace takes milliseconds.
const StaleTempAge = 10 * time.Minute

// RemoveStaleTemps removes the temporary files that WriteFileAtomic (and
// so Journal.Rewrite) left in dir when a crash or a kill stopped it before
// its rename, if they are older than age. It returns how many it removed;
// the error is of the listing only, a file that cannot be removed is left.
func RemoveStaleTemps(dir string, age time.Duration) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-age)
	n := 0
	for _, e := range entries {
		if !isTempName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// tempSuffix and tempRandLen make the names createTemp gives.
const (
	tempSuffix  = ".tmp-"
	tempRandLen = 12
)

// isTempName reports whether name is one that createTemp gives.
func isTempName(name string) bool {
	i := strings.LastIndex(name, tempSuffix)
	if !strings.HasPrefix(name, ".") || i < 1 || len(name)-i-len(tempSuffix) != tempRandLen {
		return false
	}
	_, err := hex.DecodeString(name[i+len(tempSuffix):])
	return err == nil
}

// createTemp creates a new file next to path, named after it with a
// leading dot (hidden from Maildir readers and shell globs) and a random
// suffix.
func createTemp(path string, perm os.FileMode) (string, *os.File, error) {
	dir, base := filepath.Split(path)
	for range 10 {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		tmp := filepath.Join(dir, "."+base+tempSuffix+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return tmp, f, err
	}
	return "", nil, fmt.Errorf("cannot create a unique temporary file in %s", dir)
}
