// Package ledger is the intent protocol of DESIGN invariant 2, written
// once for both engines: how a message goes from "staged in tmp/" to
// "recorded as delivered" so that a crash at any instant leaves it in the
// Maildir exactly once, and how the next run settles what a crash left in
// doubt. Each engine keeps only its own record kinds (the POP3 UIDL
// set's, the IMAP folder's flags and UIDs) in the same journal.
//
// # Format
//
// A ledger is one maildir.Journal: records framed one a line with a
// CRC-32C each, a torn last record cut off (see maildir). A record's
// payload is a capital letter, its kind, then fields each preceded by one
// space, each of bytes '!' to '~'. The protocol owns three kinds:
//
//	V <version>                   the engine's state version
//	P <id> <unique> <field>...    intent: the delivery of server message
//	                              <id> under Maildir unique name <unique>
//	                              may have completed ("-" and whatever
//	                              follows it: to an MDA)
//	D <id> <field>...             done: the delivery of <id> completed
//
// A journal the ledger creates starts with its V record, and so does
// every compacted one (Rewrite). Ids (a POP3 UIDL, an IMAP UID) and unique
// names are escaped with
// maildir.EncodeField; the engine's fields after them are its own, each
// a field as written. Every other capital letter is an engine's kind with
// fields of its own. Every record has exactly one spelling (Parse accepts
// only what Bytes writes).
//
// # Guarantees
//
// One corrupt-record rule. A journal that cannot be read whole is
// refused: Open and OpenDry fail with failure.LocalIO and a message that
// names the file, the record and what to do (Options.Advice; by default
// "move it away and run again: the next run re-matches what the Maildir
// holds"). That is a record damaged before the last one (a bad checksum:
// not what a crash leaves), a record with a good checksum that does not
// parse, and one the engine refuses (Options.Apply). Reading past it
// could replay wrong state, which may delete mail on the server. A torn
// or corrupt last record is what a crash leaves: it is ignored and cut.
// A V record above the engine's version is refused too (LocalIO: written
// by a newer mailfetch).
//
// One fsync rule. The intents of a batch are appended and fsynced before
// the batch is published. Done records are appended after the publish and
// synced lazily: by the next batch's intent fsync, by Resolve, or by
// Sync, which an engine must call before any acknowledgement to the
// server that depends on them (POP3 DELE, an IMAP expunge or flag change
// of a delivered message) and at the end of a run. Until a done record is
// durable its intent is, and an intent whose file is in the Maildir
// resolves as delivered: nothing is lost and nothing delivered twice.
//
// One delivery path. Deliver: P for every message of the batch, fsync;
// maildir.Target.Publish (the files' bytes durable, renamed into new/ or
// cur/, the directories fsynced); D for each message that was published
// (maildir.Staged.Published). DeliverNow is the same for a target whose
// delivery is complete when its Stage returns (an MDA), one message at a
// time: P, fsync, deliver, D.
//
// One recovery path. Resolve takes the intents the engine found without
// their done record and a lookup by unique name (maildir.Mailbox.Find,
// which tolerates a mail reader's renames): an intent found is delivered
// (a D record, synced), one missing is fetched again, an MDA's cannot be
// looked for and is fetched again, which may deliver it twice (the engine
// says so). A done record is never checked again: a message the user has
// since read, moved or deleted is not fetched again.
//
// A ledger opened by OpenDry reads exactly as Open does and writes
// nothing: a dry run decides from the same state as the real run.
//
// # What the engines keep
//
// Replaying is the engine's: Options.Apply receives every record in order
// (V, P and D included, checked and decoded) and keeps what its state
// needs, among it the intents without a done record, which it hands to
// Resolve. Compaction (Rewrite) writes "V <version>" and the records the
// engine gives, which may be P and D records too (IntentRecord,
// DoneRecord).
package ledger
