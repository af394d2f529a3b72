// Package report carries what the engines do to the user. The engines
// (fetch/ for POP3, sync/ for IMAP) emit folder and message Events to a
// Sink; the CLI's account loop emits AccountStart and AccountDone around
// each account, and is the only layer that does. The CLI's Sink is a
// Renderer: it keeps the totals and hands each event to one printer,
// chosen from its Options: text lines (with progress bars above them on a
// terminal), JSON Lines with --json, nothing but errors with --quiet.
package report

import (
	"time"
)

// Kind says what an Event reports.
type Kind string

const (
	// AccountStart: the CLI is about to run an account (lock, password,
	// then the engine's session with the server).
	AccountStart Kind = "account-start"
	// FolderStart: a folder (IMAP) or the maildrop (POP3) was planned;
	// Count and Bytes give the messages and bytes to fetch.
	FolderStart Kind = "folder-start"
	// Delivered: one message is durably in the Maildir (or accepted by the
	// MDA). Path, Size, ServerID and the header fields are set.
	Delivered Kind = "delivered"
	// WouldFetch: --dry-run's Delivered: the message would be fetched.
	WouldFetch Kind = "would-fetch"
	// Deleted: a message was deleted on the server (POP3 DELE, IMAP
	// expunge) after its delivery was durable, or (Local) removed locally.
	Deleted Kind = "deleted"
	// WouldDelete: --dry-run's Deleted.
	WouldDelete Kind = "would-delete"
	// FlagsChanged: flags of a message changed on one side to match the other.
	FlagsChanged Kind = "flags-changed"
	// Skipped: a message was not fetched on purpose (too large, limits).
	Skipped Kind = "skipped"
	// Notice: something the user should know that is not an error (a
	// UIDVALIDITY change that was repaired, a folder that vanished).
	Notice Kind = "notice"
	// Error: one message or folder failed; the run goes on. Err is set.
	Error Kind = "error"
	// FolderDone: one folder is finished.
	FolderDone Kind = "folder-done"
	// AccountDone: the CLI is done with an account (Err set on failure,
	// with the error the account's exit code comes from).
	AccountDone Kind = "account-done"
)

// Event is one thing that happened in a run. Fields that do not apply to the
// Kind are zero.
type Event struct {
	Kind     Kind
	Time     time.Time
	Account  string
	Protocol string // "pop3" or "imap"
	Folder   string // IMAP folder name (UTF-8); "INBOX" for POP3

	// Message identity and place, for message events.
	ServerID string // POP3 UIDL or IMAP UID (decimal)
	Path     string // the file in the Maildir, when delivered there
	Size     int64
	Flags    string // Maildir flags, e.g. "FS"
	Local    bool   // the change was made on the local side

	// Header fields of a delivered message, decoded (RFC 2047, charsets).
	MessageID string
	From      string
	Subject   string
	Date      time.Time

	// Counts for FolderStart and FolderDone.
	Count int64
	Bytes int64

	Text string // a human-readable note (Notice, Skipped)
	Err  error  // Error and AccountDone
}

// Sink receives events. Implementations are safe for concurrent use: IMAP
// folders sync in parallel.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})
