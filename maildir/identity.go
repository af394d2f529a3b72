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
)

// IDFile is the name of the file that gives a Maildir folder its identity:
// 32 hex digits and a newline, chosen at random when mailfetch first
// delivers into the folder, never changed afterwards. It travels with the
// folder when the folder is moved, copied or restored, and is missing from
// a folder that was created anew (an unmounted disk, a typo in a path).
//
// The engines record the identity in their state next to what they know
// of the folder's messages. A state whose recorded identity is not the
// folder's describes another Maildir: a message missing from the folder
// is then not a local deletion (DESIGN invariant 8).
//
// The name cannot be a folder's: a '%' in a folder name is always
// escaped (%25) and, in the fs layout, a leading '.' too; in the Maildir++
// layout only directories count as folders.
const IDFile = ".mailfetch%id"

// idLen is the length of an identity: 128 random bits in hex.
const idLen = 32

// ReadID returns the identity of the Maildir folder at dir, or "" when it
// has none: the folder or its identity file does not exist, or the file
// does not hold an identity (then Folder.ID replaces it). It creates
// nothing, so a dry run can use it. Other errors are failure.LocalIO.
func ReadID(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, IDFile))
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrInvalid):
		return "", nil
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "is a directory") {
			return "", nil
		}
		return "", localErr(fmt.Errorf("maildir: read the identity of %s: %w", dir, unwrapPath(err)))
	}
	id := strings.TrimSuffix(string(data), "\n")
	if !validID(id) {
		return "", nil
	}
	return id, nil
}

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// ID returns the folder's identity (see IDFile), giving the folder a new
// one first when it has none. A new identity is durable before ID returns:
// written to a temporary file, fsynced, linked into place without
// replacing a file another process put there meanwhile (whose identity is
// then the folder's), and the directory fsynced. A file that holds no
// identity (damaged by hand) is replaced.
func (f *Folder) ID() (string, error) {
	f.idMu.Lock()
	defer f.idMu.Unlock()
	if f.id != "" {
		return f.id, nil
	}
	for range 3 {
		id, err := ReadID(f.dir)
		if err != nil {
			return "", err
		}
		if id != "" {
			f.id = id
			return id, nil
		}
		id, err = f.newID()
		if err != nil {
			return "", err
		}
		if id != "" {
			f.id = id
			return id, nil
		}
		// Another process won the race: read its identity.
	}
	return "", localErr(fmt.Errorf("maildir: %s: cannot settle the folder's identity file %s", f.dir, IDFile))
}

// newID writes a new identity file. It returns "" without an error when a
// file appeared meanwhile.
func (f *Folder) newID() (string, error) {
	var raw [idLen / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("maildir: identity: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	path := filepath.Join(f.dir, IDFile)
	tmp, file, err := createTemp(path, 0o600)
	if err != nil {
		return "", localErr(fmt.Errorf("maildir: write %s: %w", path, unwrapPath(err)))
	}
	defer os.Remove(tmp)
	_, err = file.WriteString(id + "\n")
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", localErr(fmt.Errorf("maildir: write %s: %w", path, unwrapPath(err)))
	}
	// A damaged file (not an identity) is moved aside first; a valid one
	// that another process wrote is never replaced.
	if data, rerr := os.ReadFile(path); rerr == nil && !validID(strings.TrimSuffix(string(data), "\n")) {
		_ = os.Remove(path)
	}
	if err := renameNoReplace(tmp, path); err != nil {
		if errors.Is(unwrapLink(err), fs.ErrExist) {
			return "", nil
		}
		return "", localErr(fmt.Errorf("maildir: write %s: %w", path, unwrapPath(unwrapLink(err))))
	}
	if err := syncDir(f.dir); err != nil {
		return "", localErr(err)
	}
	return id, nil
}
