package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Layout is how folders below the root Maildir are laid out on disk.
type Layout int

const (
	// LayoutMaildirPP is Maildir++: every folder is a directory
	// ".Parent.Child" directly in the root, holding an empty
	// "maildirfolder" file. Dovecot's and Courier's default.
	LayoutMaildirPP Layout = iota
	// LayoutFS nests folders as directories: "Parent/Child", each a
	// Maildir. Dovecot's LAYOUT=fs.
	LayoutFS
)

// ParseLayout parses a layout name as written in the configuration:
// "maildir++" (also "" and "maildirpp") or "fs".
func ParseLayout(s string) (Layout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "maildir++", "maildirpp":
		return LayoutMaildirPP, nil
	case "fs":
		return LayoutFS, nil
	}
	return 0, failure.New(failure.Usage, fmt.Sprintf("maildir: unknown layout %q (want maildir++ or fs)", s))
}

// String is the layout's name as ParseLayout reads it.
func (l Layout) String() string {
	switch l {
	case LayoutMaildirPP:
		return "maildir++"
	case LayoutFS:
		return "fs"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// fsyncSlots bounds the fsyncs in flight per Store (in the syncEachFile
// mode). Each one holds an open file; 32 keep a disk busy (ext4: about
// twice the rate of one after another, see PEERS.md) while the
// descriptors stay few. (The benchmarks give a Store other sizes.)
const fsyncSlots = 32

// staleTmpAge is how old a file in tmp/ must be before it is taken for the
// leftover of a crashed delivery: the spec's 36 hours.
const staleTmpAge = 36 * time.Hour

// maxNameLen is the longest file name most file systems take (NAME_MAX).
const maxNameLen = 255

// Store is a tree of Maildir folders under one root, which is INBOX. It
// decides once per file system how deliveries there are made durable (see
// "Durability modes" in the package comment). It is safe for concurrent
// use.
type Store struct {
	root   string
	layout Layout
	view   bool // OpenView: reads only
	// syncSlots holds a token for every fsync in flight (see Folder.Stage).
	syncSlots chan struct{}
	seams     seams // what tests replace

	mu      sync.Mutex
	folders map[string]*Folder // by directory: Folder returns one *Folder per folder
	// fileSystems holds, per device, how deliveries there are made
	// durable: decided when the first folder on it is opened.
	fileSystems map[uint64]*fileSystem
}

// Open opens the Maildir store rooted at root, creating root (and its
// parents) with mode 0700 as a Maildir when it does not exist. It refuses a
// path that is a file, and an existing directory that is not a Maildir (it
// holds something, but not new/ and cur/), rather than write mail into it.
func Open(root string, layout Layout) (*Store, error) {
	if layout != LayoutMaildirPP && layout != LayoutFS {
		return nil, failure.New(failure.Usage, fmt.Sprintf("maildir: unknown layout %d", int(layout)))
	}
	if root == "" {
		return nil, failure.New(failure.Usage, "maildir: no Maildir path given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("maildir: %s: %w", root, err))
	}
	if err := ensureMaildir(abs, false, false); err != nil {
		return nil, err
	}
	return &Store{
		root:        abs,
		layout:      layout,
		syncSlots:   make(chan struct{}, fsyncSlots),
		folders:     make(map[string]*Folder),
		fileSystems: make(map[uint64]*fileSystem),
	}, nil
}

// OpenView returns a store rooted at root that only reads: it creates
// nothing, root need not exist, and Folder fails. A dry run uses it to
// find where each folder is and what it holds without writing anything:
// its Mailbox returns read-only mailboxes, which read a missing folder
// as empty and fail every write.
func OpenView(root string, layout Layout) (*Store, error) {
	if layout != LayoutMaildirPP && layout != LayoutFS {
		return nil, failure.New(failure.Usage, fmt.Sprintf("maildir: unknown layout %d", int(layout)))
	}
	if root == "" {
		return nil, failure.New(failure.Usage, "maildir: no Maildir path given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("maildir: %s: %w", root, err))
	}
	return &Store{root: abs, layout: layout, view: true}, nil
}

// Root is the absolute path of the root Maildir (INBOX).
func (s *Store) Root() string { return s.root }

// Layout is the folder layout the store was opened with.
func (s *Store) Layout() Layout { return s.layout }

// isInbox reports whether path names the root: nil, empty or ["INBOX"] in
// any case (IMAP's INBOX is case-insensitive, RFC 3501 section 5.1).
func isInbox(path []string) bool {
	return len(path) == 0 || len(path) == 1 && strings.EqualFold(path[0], "INBOX")
}

// FolderDir returns the directory of the folder path (its elements UTF-8,
// as the user or the IMAP server names them), whether or not it exists. It
// creates nothing. It fails for a name that cannot be mapped safely: an
// empty element, "." or "..", a NUL, or a name too long for the file system.
func (s *Store) FolderDir(path []string) (string, error) {
	if isInbox(path) {
		return s.root, nil
	}
	for _, e := range path {
		switch {
		case e == "":
			return "", fmt.Errorf("maildir: folder %q: empty name element", strings.Join(path, "/"))
		case e == "." || e == "..":
			return "", fmt.Errorf("maildir: folder %q: element %q is not allowed", strings.Join(path, "/"), e)
		case strings.IndexByte(e, 0) >= 0:
			return "", fmt.Errorf("maildir: folder %q: NUL in name", strings.Join(path, "/"))
		}
	}
	switch s.layout {
	case LayoutFS:
		elems := make([]string, 0, len(path)+1)
		elems = append(elems, s.root)
		for _, e := range path {
			esc := escapeFSElem(e)
			if len(esc) > maxNameLen {
				return "", fmt.Errorf("maildir: folder %q: element too long for a directory name", strings.Join(path, "/"))
			}
			elems = append(elems, esc)
		}
		return filepath.Join(elems...), nil
	default:
		var b strings.Builder
		for _, e := range path {
			b.WriteByte('.')
			b.WriteString(EscapeFolderElem(e))
		}
		if b.Len() > maxNameLen {
			return "", fmt.Errorf("maildir: folder %q: name too long for a directory name", strings.Join(path, "/"))
		}
		return filepath.Join(s.root, b.String()), nil
	}
}

// Folder returns the folder path (nil, empty or ["INBOX"] is the root),
// creating it as a Maildir (0700) when missing: in the fs layout its
// parents become Maildirs too; in Maildir++ it gets its "maildirfolder"
// marker. The first time a folder is opened, files older than 36 hours are
// removed from its tmp/ (see CleanTmp). It refuses to write into a path
// that exists but is not a Maildir.
func (s *Store) Folder(path []string) (*Folder, error) {
	dir, err := s.FolderDir(path)
	if err != nil {
		return nil, err
	}
	if s.view {
		return nil, fmt.Errorf("maildir: %s: a read-only view cannot open a folder for delivery", dir)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.folders[dir]; f != nil {
		return f, nil
	}
	if dir != s.root {
		switch s.layout {
		case LayoutFS:
			// Every directory on the way down is a folder of its own.
			rel, _ := filepath.Rel(s.root, dir)
			d := s.root
			for _, e := range strings.Split(rel, string(filepath.Separator)) {
				d = filepath.Join(d, e)
				if err := ensureMaildir(d, false, true); err != nil {
					return nil, err
				}
			}
		default:
			if err := ensureMaildir(dir, true, false); err != nil {
				return nil, err
			}
		}
	} else if err := ensureMaildir(dir, false, false); err != nil {
		// The root was checked by Open; check again in case it was
		// removed since, rather than fail on every delivery.
		return nil, err
	}
	f := &Folder{
		store:  s,
		dir:    dir,
		tmpDir: filepath.Join(dir, "tmp"),
		newDir: filepath.Join(dir, "new"),
		curDir: filepath.Join(dir, "cur"),
	}
	f.fs = s.fileSystemOf(f.tmpDir)
	// Housekeeping only: a tmp/ that cannot be cleaned does not stop
	// delivery, and a tmp/ that cannot be written fails the first Stage
	// with a clear error.
	_, _ = f.CleanTmp(staleTmpAge)
	s.folders[dir] = f
	return f, nil
}

// Folders lists the folders that exist in the store, decoded, INBOX (as
// ["INBOX"]) first and the rest sorted. A directory is listed only when
// FolderDir of its decoded name leads back to it: names that are not
// escaped the way this package escapes them (written by another tool) are
// left out rather than mapped to a different directory.
func (s *Store) Folders() ([][]string, error) {
	out := [][]string{{"INBOX"}}
	var err error
	switch s.layout {
	case LayoutFS:
		err = s.walkFS(s.root, nil, &out)
	default:
		err = s.listMaildirPP(&out)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out[1:], func(a, b []string) int { return slices.Compare(a, b) })
	return out, nil
}

func (s *Store) listMaildirPP(out *[][]string) error {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return localErr(fmt.Errorf("maildir: list folders in %s: %w", s.root, err))
	}
	for _, e := range entries {
		name := e.Name()
		if len(name) < 2 || name[0] != '.' || name == ".." {
			continue
		}
		var path []string
		ok := true
		for _, esc := range strings.Split(name[1:], ".") {
			elem, err := UnescapeFolderElem(esc)
			if err != nil {
				ok = false
				break
			}
			path = append(path, elem)
		}
		dir := filepath.Join(s.root, name)
		if ok && s.isListable(path, dir) {
			*out = append(*out, path)
		}
	}
	return nil
}

func (s *Store) walkFS(dir string, parent []string, out *[][]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return localErr(fmt.Errorf("maildir: list folders in %s: %w", dir, err))
	}
	for _, e := range entries {
		name := e.Name()
		// Only real directories: following symlinks could loop.
		if !e.IsDir() || name[0] == '.' || name == "tmp" || name == "new" || name == "cur" {
			continue
		}
		elem, err := UnescapeFolderElem(name)
		if err != nil {
			continue
		}
		path := append(slices.Clip(parent), elem)
		sub := filepath.Join(dir, name)
		if s.isListable(path, sub) {
			*out = append(*out, path)
		}
		if err := s.walkFS(sub, path, out); err != nil {
			return err
		}
	}
	return nil
}

// isListable reports whether dir is a Maildir that FolderDir(path) names.
func (s *Store) isListable(path []string, dir string) bool {
	if want, err := s.FolderDir(path); err != nil || want != dir {
		return false
	}
	return isDir(filepath.Join(dir, "cur")) && isDir(filepath.Join(dir, "new"))
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// localErr classifies a file-system error: a missing directory or denied
// permission is LocalIO like a full disk; the message is kept.
func localErr(err error) error { return failure.Wrap(failure.LocalIO, err) }

// ensureMaildir makes dir a Maildir unless it is one: creates it and its
// missing parents (0700), tmp/, new/ and cur/, and (marker) the Maildir++
// "maildirfolder" file, then fsyncs every directory that got a new entry so
// that a folder, once mail is in it, cannot vanish in a crash. An existing
// directory is accepted when it has new/ and cur/, or holds nothing but
// parts of a Maildir (a creation interrupted before); subdirs also allows
// other directories (child folders of the fs layout).
func ensureMaildir(dir string, marker, subdirs bool) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createMaildir(dir, marker)
	case err != nil:
		return localErr(fmt.Errorf("maildir: %s: %w", dir, unwrapPath(err)))
	case !fi.IsDir():
		return failure.New(failure.LocalIO, fmt.Sprintf("maildir: %s is a file, not a Maildir directory", dir))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return localErr(fmt.Errorf("maildir: %s: %w", dir, unwrapPath(err)))
	}
	have := map[string]bool{}
	other := ""
	for _, e := range entries {
		switch name := e.Name(); name {
		case "tmp", "new", "cur", "maildirfolder", IDFile:
			have[name] = true
		default:
			if !(subdirs && e.IsDir()) {
				other = name
			}
		}
	}
	if other != "" && !(have["new"] && have["cur"]) {
		return failure.New(failure.LocalIO, fmt.Sprintf(
			"maildir: %s is not a Maildir (it holds %q and has no new/ and cur/): refusing to deliver into it", dir, other))
	}
	var created bool
	for _, sub := range []string{"cur", "new", "tmp"} {
		p := filepath.Join(dir, sub)
		if have[sub] {
			if !isDir(p) {
				return failure.New(failure.LocalIO, fmt.Sprintf("maildir: %s is not a directory: %s is not a usable Maildir", p, dir))
			}
			continue
		}
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return localErr(fmt.Errorf("maildir: create %s: %w", p, unwrapPath(err)))
		}
		created = true
	}
	if marker && !have["maildirfolder"] {
		if err := touch(filepath.Join(dir, "maildirfolder")); err != nil {
			return err
		}
		created = true
	}
	if created {
		return localErr(syncDir(dir))
	}
	return nil
}

func createMaildir(dir string, marker bool) error {
	if err := MkdirAllDurable(dir, 0o700); err != nil {
		return err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		p := filepath.Join(dir, sub)
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return localErr(fmt.Errorf("maildir: create %s: %w", p, unwrapPath(err)))
		}
	}
	if marker {
		if err := touch(filepath.Join(dir, "maildirfolder")); err != nil {
			return err
		}
	}
	return localErr(syncDir(dir))
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return localErr(fmt.Errorf("maildir: create %s: %w", path, unwrapPath(err)))
	}
	if err := f.Close(); err != nil {
		return localErr(fmt.Errorf("maildir: create %s: %w", path, unwrapPath(err)))
	}
	return nil
}

// unwrapPath drops the *PathError around err: the callers' messages name
// the path already, in words that say what was being done.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
