package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Mailbox is one Maildir folder as the engines use it: where messages are
// staged and published, looked up by unique name after a crash, listed,
// read, re-flagged and removed. The engines touch a Maildir's files only
// through it. A *Folder is one; a read-only view's mailbox (Store.Mailbox
// of a store from OpenView) is another, for dry runs: it reads what
// exists (nothing, when the folder does not) and fails every write.
type Mailbox interface {
	Target
	// Dir is the folder's directory, whether or not it exists.
	Dir() string
	// ReadOnly reports whether every write fails (a dry run's view).
	ReadOnly() bool
	// ReadID returns the folder's identity (see IDFile), "" when it has
	// none. It never creates one.
	ReadID() (string, error)
	// ID returns the folder's identity, giving the folder one first when
	// it has none (Folder.ID); a read-only mailbox only reads it.
	ID() (string, error)
	// Find looks a message up by its unique name, by the core of it
	// (UniqueCore), whatever a mail reader did to the rest of the name.
	Find(unique string) (Entry, bool, error)
	// Scan lists the messages in new/ and cur/, sorted by path.
	Scan() ([]Entry, error)
	// Open opens a message file of the folder (an Entry's Path) for
	// reading. A file renamed or removed meanwhile gives an error
	// matching fs.ErrNotExist.
	Open(path string) (io.ReadCloser, error)
	// SetFlags and Remove change a message file (see Folder.SetFlags,
	// Folder.Remove).
	SetFlags(path string, flags Flags) (string, error)
	Remove(path string) error
	// HasMessages reports whether new/ or cur/ holds a message.
	HasMessages() (bool, error)
	// Index indexes the files whose MatchKey is one of want (see
	// IndexMatches).
	Index(want []MatchKey, only func(Entry) bool) (*MatchIndex, error)
}

var (
	_ Mailbox = (*Folder)(nil)
	_ Mailbox = (*viewMailbox)(nil)
)

// Published reports whether the message is delivered: durable in new/ or
// cur/ (Path is set), or accepted by an MDA. It is false before Publish,
// and after a failure or a Discard.
func (s *Staged) Published() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stagedPublished
}

// ReadOnly is false: a Folder is written.
func (f *Folder) ReadOnly() bool { return false }

// ReadID returns the folder's identity without creating one (ReadID).
func (f *Folder) ReadID() (string, error) { return ReadID(f.dir) }

// Open opens a message file of the folder for reading.
func (f *Folder) Open(path string) (io.ReadCloser, error) { return openMessage(f.dir, path) }

// HasMessages reports whether new/ or cur/ holds a message.
func (f *Folder) HasMessages() (bool, error) { return HasMessages(f.dir) }

// Index indexes the folder's files with one of the keys want (IndexMatches).
func (f *Folder) Index(want []MatchKey, only func(Entry) bool) (*MatchIndex, error) {
	return IndexMatches(f.dir, want, only)
}

func openMessage(dir, path string) (io.ReadCloser, error) {
	if _, err := ownFile(dir, path); err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("maildir: open %s: not found (renamed or removed meanwhile): %w", path, fs.ErrNotExist)
		}
		return nil, localErr(fmt.Errorf("maildir: open %s: %w", path, unwrapPath(err)))
	}
	return file, nil
}

// Mailbox returns the folder path as a Mailbox: the *Folder (created as
// Store.Folder does) for a store from Open; for a read-only view (from
// OpenView) a mailbox that reads the folder's directory, which need not
// exist, and fails every write.
func (s *Store) Mailbox(path []string) (Mailbox, error) {
	if !s.view {
		return s.Folder(path)
	}
	dir, err := s.FolderDir(path)
	if err != nil {
		return nil, err
	}
	return &viewMailbox{dir: dir}, nil
}

// ReadOnly reports whether the store is a read-only view (OpenView).
func (s *Store) ReadOnly() bool { return s.view }

// viewMailbox is a folder of a read-only view: it reads, nothing else.
type viewMailbox struct{ dir string }

// errView is the error of every write to a read-only view.
func (v *viewMailbox) errView(what string) error {
	return fmt.Errorf("maildir: %s: a read-only view cannot %s", v.dir, what)
}

func (v *viewMailbox) Stage(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error) {
	return nil, v.errView("deliver")
}
func (v *viewMailbox) Publish(staged ...*Staged) error { return v.errView("publish") }
func (v *viewMailbox) Discard(staged ...*Staged)       {}
func (v *viewMailbox) Dir() string                     { return v.dir }
func (v *viewMailbox) ReadOnly() bool                  { return true }
func (v *viewMailbox) ReadID() (string, error)         { return ReadID(v.dir) }
func (v *viewMailbox) ID() (string, error)             { return ReadID(v.dir) }
func (v *viewMailbox) Find(unique string) (Entry, bool, error) {
	return findIn(v.dir, unique, true)
}
func (v *viewMailbox) Scan() ([]Entry, error)                  { return scanIn(v.dir, true) }
func (v *viewMailbox) Open(path string) (io.ReadCloser, error) { return openMessage(v.dir, path) }
func (v *viewMailbox) SetFlags(path string, flags Flags) (string, error) {
	return "", v.errView("change flags")
}
func (v *viewMailbox) Remove(path string) error   { return v.errView("remove a message") }
func (v *viewMailbox) HasMessages() (bool, error) { return HasMessages(v.dir) }
func (v *viewMailbox) Index(want []MatchKey, only func(Entry) bool) (*MatchIndex, error) {
	return IndexMatches(v.dir, want, only)
}

// Destination is where an account's mail goes, as the CLI gives it to
// both engines: a Store of Maildir folders (a read-only view in a dry
// run), or an MDA command. The zero value is neither: a dry run that was
// not told where mail goes.
type Destination struct {
	store *Store
	mda   *MDA
}

// StoreDestination delivers into the folders of s.
func StoreDestination(s *Store) Destination { return Destination{store: s} }

// MDADestination delivers every message to m.
func MDADestination(m *MDA) Destination { return Destination{mda: m} }

// Store is the Maildir store, nil with an MDA.
func (d Destination) Store() *Store { return d.store }

// MDA is the command, nil with a Store.
func (d Destination) MDA() *MDA { return d.mda }

// IsZero reports whether d names no destination.
func (d Destination) IsZero() bool { return d.store == nil && d.mda == nil }

// ReadOnly reports whether d writes nothing: a read-only view. An MDA
// is not read-only; a dry run simply does not call it.
func (d Destination) ReadOnly() bool { return d.store != nil && d.store.view }

// Mailbox is the folder path of the store (Store.Mailbox; nil or
// ["INBOX"] is INBOX). It fails with an MDA, which has no folders.
func (d Destination) Mailbox(path []string) (Mailbox, error) {
	if d.store == nil {
		return nil, failure.New(failure.Usage, "maildir: mail goes to an MDA, not a Maildir folder")
	}
	return d.store.Mailbox(path)
}

// Target is where the messages of folder path go: its Mailbox, or the MDA.
func (d Destination) Target(path []string) (Target, error) {
	if d.mda != nil {
		return d.mda, nil
	}
	return d.Mailbox(path)
}
