package imapconn

import (
	"context"
	"crypto/sha256"
	"io"
	"time"
)

// UID is a message's unique identifier in its folder (RFC 3501
// 2.3.1.1): it never changes while the folder's UIDVALIDITY does not.
type UID uint32

// Flags is a set of IMAP system flags. Keywords and \Recent are not
// carried: nothing of mailfetch stores them.
type Flags uint8

// The system flags (RFC 3501 2.3.2).
const (
	Seen Flags = 1 << iota
	Answered
	Flagged
	Deleted
	Draft
)

// Caps is what an engine needs to know of the server's capabilities.
type Caps struct {
	// CondStore: RFC 7162's CONDSTORE (MODSEQ, CHANGEDSINCE,
	// UNCHANGEDSINCE, HIGHESTMODSEQ in STATUS and SELECT).
	CondStore bool
	// UIDPlus: RFC 4315's UIDPLUS, without which Expunge refuses (a plain
	// EXPUNGE would remove other messages marked \Deleted).
	UIDPlus bool
	// Names are all of them, as the server names them, sorted.
	Names []string
}

// ListOptions says what ListFolders asks besides the names.
type ListOptions struct {
	Status bool // STATUS of each selectable folder (LIST-STATUS where offered)
	Unseen bool // with Status: the count of unseen messages too
}

// Listing is what LIST (and NAMESPACE, and STATUS) said of the account.
type Listing struct {
	// Folders, sorted by name, each once.
	Folders []*Folder
	// Prefix is the personal namespace's prefix (Courier's "INBOX."),
	// taken off the folders' paths; "" when there is none.
	Prefix string
}

// PathOf is the path a folder named name has in this listing: its name
// cut at delim (0: not cut), without the namespace prefix. For a folder
// the listing does not hold (one that vanished), so that patterns match
// it as they match listed folders.
func (l *Listing) PathOf(name string, delim rune) []string {
	if shown, ok := cutPrefix(name, l.Prefix); ok {
		return splitName(shown, delim)
	}
	return splitName(name, delim)
}

// Folder is one folder as LIST (and STATUS) describe it.
type Folder struct {
	// Name is the folder's name as the server names it, decoded from
	// modified UTF-7 (or UTF-8): what Select takes. For a name that does
	// not decode, its raw bytes shown by wire.DisplayName.
	Name  string
	Delim rune // hierarchy delimiter; 0 for a flat namespace
	// Path is the folder as the user sees it: its name cut at the
	// delimiter, without the personal namespace's prefix. Full is the
	// path with the prefix, when Path lacks it (else nil).
	Path, Full []string
	Selectable bool
	Status     *Status // nil when the server gave none
	// Raw is the name's raw bytes when they do not decode (go-imap would
	// have failed the whole LIST on them); Unusable then says why the
	// folder is skipped. Such a folder is never to be selected.
	Raw      string
	Unusable error
}

// Delimiter is the delimiter as a string, "" when there is none.
func (f *Folder) Delimiter() string {
	if f.Delim == 0 {
		return ""
	}
	return string(f.Delim)
}

// Status is what STATUS said of a folder.
type Status struct {
	UIDValidity   uint32
	UIDNext       UID
	Messages      *uint32 // nil: not given
	Unseen        *uint32 // nil: not asked for, or not given
	HighestModSeq uint64  // 0 without CONDSTORE
}

// Selected is what SELECT (or EXAMINE) said of the folder it selected.
type Selected struct {
	Name          string
	UIDValidity   uint32
	UIDNext       UID
	Messages      uint32
	HighestModSeq uint64 // 0 without CONDSTORE, or NOMODSEQ
}

// Meta is what the engine knows of a message before its body.
type Meta struct {
	UID   UID
	Size  int64 // RFC822.SIZE: the size with CRLF line ends
	Flags Flags
	Date  time.Time // INTERNALDATE
	// Envelope, when asked for.
	Envelope *Envelope
}

// Envelope is the part of a message's ENVELOPE a report shows.
type Envelope struct {
	Subject, MessageID string
	From               string // the first sender: "Name <addr>", or addr
	Date               time.Time
}

// Header is a message's header (or some of its fields) with its size
// and flags.
type Header struct {
	UID    UID
	Size   int64
	Flags  Flags
	Header []byte // as the server sent it (CRLF), at most 64 KiB; nil when it sent none
}

// Digest is the SHA-256 of a message in its local form (LF line ends).
type Digest [sha256.Size]byte

// Change is a message's state in a FETCH of what changed since a
// mod-sequence (CONDSTORE).
type Change struct {
	UID      UID
	Flags    Flags
	HasFlags bool // FLAGS came with it
	ModSeq   uint64
}

// FlagChange is what a STORE does to one message's flags.
type FlagChange struct {
	Add, Remove Flags
}

// Received is what an engine made of a message's body (a file staged,
// a delivery made): FetchBodies keeps it once the response's UID is
// confirmed to be the message's, and drops it when the body turns out to
// be another message's or cut short.
type Received interface {
	// Keep: the body is the message's, whole. An error stops the fetch.
	Keep() error
	// Drop: it is not; undo what can be undone.
	Drop()
}

// ReceiveFunc reads one message's body from body: CRLF already turned
// into LF, and length-checked (a connection cut mid-body fails the read
// with io.ErrUnexpectedEOF). m holds what the server said of the message
// up to its body, and the rest from the Meta given to FetchBodies.
type ReceiveFunc func(m Meta, body io.Reader) (Received, error)

// Conn is an authenticated IMAP connection as mailfetch's engines use it:
// every round trip and every guard of go-imap's traps is behind it, so
// that an engine sees folders, UIDs, flags, metadata and message bodies,
// never a protocol. Session implements it over the network; a test can
// implement it in memory.
//
// The methods after Select work on the folder Select selected. Watch
// mode (IDLE) and pushing local changes (APPEND, CREATE, UID MOVE) are to
// be added here the same way: each a method that checks its capability,
// guards its sets and classifies its errors.
type Conn interface {
	// Caps are the server's capabilities after login.
	Caps() Caps
	// ListFolders lists every folder (LIST "" "*"), with what opt asks.
	ListFolders(ctx context.Context, opt ListOptions) (*Listing, error)
	// Select selects a folder (EXAMINE when readOnly), with CONDSTORE
	// where offered, and sends the UID SEARCH ALL that SearchAll first
	// answers from in the same round trip.
	Select(ctx context.Context, name string, readOnly bool) (*Selected, error)

	// SearchAll returns the UIDs of the selected folder, sorted, and
	// whether their number matched the folder's message count: only then
	// may a known message missing from the list be taken for expunged.
	SearchAll(ctx context.Context) (uids []UID, complete bool, err error)
	// FetchFlags returns the flags of the messages 1:upTo (changed since
	// the mod-sequence changedSince, when it is not 0).
	FetchFlags(ctx context.Context, upTo UID, changedSince uint64) (map[UID]Flags, error)
	// FetchChanges returns every message changed since modSeq, with its
	// flags and mod-sequence (CONDSTORE).
	FetchChanges(ctx context.Context, modSeq uint64) ([]Change, error)
	// FetchMeta returns size, flags and date (and with envelope, the
	// envelope) of uids, sorted by UID; those it does not return were
	// expunged. missing is not nil when some did not come back although
	// the server still lists them: a failure of this folder that does not
	// stop the others from being fetched.
	FetchMeta(ctx context.Context, uids []UID, envelope bool) (metas []Meta, missing error, err error)
	// FetchBodies streams the bodies of msgs (BODY.PEEK: the server's
	// \Seen is never set) to receive, one at a time, and keeps or drops
	// what it made of each (see Received). It fails when a message the
	// server still lists did not come.
	FetchBodies(ctx context.Context, msgs []Meta, receive ReceiveFunc) error
	// FetchHeaders returns the headers of uids (BODY.PEEK[HEADER]); a
	// message missing from the map did not come.
	FetchHeaders(ctx context.Context, uids []UID) (map[UID][]byte, error)
	// FetchAllHeaders returns UID, size, flags and the header fields of
	// every message of the folder, sorted by UID.
	FetchAllHeaders(ctx context.Context, fields ...string) ([]Header, error)
	// FetchDigests returns the Digest of each of uids that came.
	FetchDigests(ctx context.Context, uids []UID) (map[UID]Digest, error)
	// Store changes flags (UID STORE, grouped: one command for all
	// messages with the same change), with UNCHANGEDSINCE when
	// unchangedSince is not 0. It returns, for each message of changes,
	// whether the server confirmed every change of it; an unconfirmed
	// one may have been refused for a concurrent change.
	Store(ctx context.Context, changes map[UID]FlagChange, unchangedSince uint64) (map[UID]bool, error)
	// Expunge removes exactly uids: \Deleted on them, then UID EXPUNGE
	// (UIDPLUS; without it, an error). Never a plain EXPUNGE, which would
	// remove other messages marked \Deleted.
	Expunge(ctx context.Context, uids []UID) error

	// KeepAlive sends a NOOP now and then until stop is called: long
	// local work while no command is out must not let the connection
	// time out.
	KeepAlive() (stop func())
	// Alive reports whether the connection can still be used.
	Alive() bool
	// Abort ends the connection at once, without draining a command.
	Abort()
	// Close logs out when the connection is healthy, and closes it.
	Close()
}

var _ Conn = (*Session)(nil)
