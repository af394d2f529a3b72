// Package fetch is a POP3 run: it connects, plans from UIDL and LIST, streams
// each message into the INBOX mailbox of its maildir.Destination (or its
// MDA), makes it durable, and only then deletes it on the server (or, with
// Keep, leaves it there and remembers it).
//
// # A run
//
//	connect   transport.Dial (implicit TLS by default; STARTTLS only if CAPA lists
//	          STLS, else refused), CAPA, login (SASL / USER+PASS / APOP),
//	          preceded by UTF8 (RFC 6856) in the same write when CAPA lists
//	          it: a server such as Courier otherwise serves a stub for a
//	          message whose header has raw UTF-8, and the original would be
//	          deleted. A server that refuses UTF8 is used anyway, with a notice.
//	plan      UIDL once, LIST once, the state if it describes this Maildir
//	          (else a re-match by TOP n 0 and content, see below): what to
//	          fetch, what to delete without fetching, what to skip (MaxSize,
//	          MaxMessages)
//	stream    RETR pipelined (a window of commands in flight when the server
//	          advertises PIPELINING); each body streams into Mailbox.Stage,
//	          which writes the file while its fsync runs in maildir's pool
//	commit    per batch (64 messages or 16 MiB), in a goroutine of its own so
//	          the socket keeps streaming, through ledger.Deliver: journal
//	          "pending" + fsync, Publish (wait for the files' fsyncs, rename
//	          into new/, fsync new/), journal "done" (made durable by the
//	          next batch's fsync, and by one more fsync after the last
//	          batch, before any DELE)
//	delete    DELE (pipelined) for every message whose delivery is durable,
//	          then QUIT, whose +OK commits the deletions; "gone" records;
//	          the journal is compacted
//
// DELEs are sent after the last RETR rather than after each batch: the
// pop3 client streams RETRs with replies in order, and POP3 deletes nothing
// before QUIT anyway (RFC 1939 §6), so where the DELE lines go changes
// nothing a crash could observe. What matters, and holds, is that a DELE
// is only ever sent for a message whose done record is synced.
//
// # State
//
// The state is one ledger (internal/ledger), StateDir/pop3.journal: a
// maildir.Journal (records framed with a CRC-32C each; a torn last record
// is dropped) under the intent protocol, which owns the V, P and D
// records and writes them the same way for both engines. Each payload is
// one line of space-separated fields; a UIDL, unique name or identity has
// '%' and every byte outside '!'..'~' escaped as %XX (uppercase hex, and
// only those bytes), so a record has exactly one spelling:
//
//	V <version>                      format version, now 2; a later version is refused
//	B <identity>                     bound: the identity of the Maildir folder the
//	                                 records after it describe (maildir.IDFile)
//	P <uidl> <unique> <unix-time>    pending (the ledger's intent): a delivery under
//	                                 this Maildir unique name may have completed
//	                                 ("-" for an MDA); the time is when it was fetched
//	D <uidl> <unix-time>             done (the ledger's): delivered; the time is when
//	                                 it was first fetched (DeleteAfter counts from it)
//	X <uidl>                         gone: QUIT committed its deletion
//
// Replaying in order: B binds the state to a folder (a B naming another
// identity than an earlier B forgets everything before it: that described
// another Maildir), P adds a unique name in doubt (ignored if already
// done), D marks done and clears the doubt (keeping the earliest time), X
// forgets the UIDL. At the end of a run the journal is rewritten
// (atomically) to "V 2", the B record, and one D record per UIDL that is
// still on the server and was not deleted: in keep mode that is the set
// of messages fetched before; in delete mode it is only those whose
// deletion did not commit. Version 1 had no B record: its journals are
// read as they are and rewritten as version 2 (the records of both
// versions have the same shape, so the version stays 2).
//
// A state that cannot be read whole is refused, with the ledger's one
// corrupt-record rule: a record that does not parse (a kind or a field
// this version does not know), anywhere in the journal, or one damaged
// before the last (a bad checksum), stops the run before it connects, with
// failure.LocalIO and one line that names the file and the record and
// says to move the file away. Versions 1 and 2 skipped such records with a
// notice; a state read wrong can make a run delete on the server a message
// it never delivered, and is worse than no state: without one the next
// run re-matches what the Maildir holds (in keep mode; in delete mode only
// a message whose deletion did not complete can be fetched twice).
//
// # The state belongs to its Maildir
//
// A state describes one Maildir folder (DESIGN invariant 8), named by the
// folder's identity (maildir.ReadID, a random id in a file inside the
// folder). Before it fetches anything into a Maildir, a run compares the
// two (an MDA target has no folder: its state is used as it is):
//
//   - The state names the folder's identity: bound, the state is trusted.
//   - The state names another identity, or the folder has none (a new
//     empty Maildir at a changed path, an unmounted disk, a typo in the
//     path, another directory): unbound. The state's done set is not
//     trusted: a server message counts as delivered only if a file with
//     its content is in this folder (re-match, below), and everything else
//     is fetched (and, in delete mode, deleted after). A done message
//     whose deletion did not commit is deleted without fetching only if it
//     is found here; otherwise it is fetched again first: a possible
//     duplicate in the old Maildir, never a loss. A missing file is never
//     taken for a local deletion.
//   - The state names no identity but holds messages: written by version 1.
//     Decision: it is taken as describing this folder, as version 1 did,
//     and bound to it; nothing is fetched again.
//   - The state is empty and names no identity, in keep mode, over a
//     folder that already holds mail (another state directory, a restored
//     backup): re-match, rather than download everything again. In delete
//     mode, and over an empty folder, it is simply bound.
//
// Re-matching asks TOP n 0 for every message (pipelined: headers only)
// and pairs each with a file of the folder by maildir.MatchKey: the
// Message-ID and the size (LIST's size counts CRLF line ends, and so does
// the key of a local file), or, without a Message-ID, a digest of the
// header and the size; each file pairs with one message at most. A server
// without TOP cannot be re-matched: everything is fetched.
//
// Once decided, and before any delivery, the run records the binding: the
// folder gets an identity if it has none (durably, maildir.Folder.ID), and
// the journal is rewritten in one atomic step to the B record and the done
// records the decision trusts (an upgrade's, or a re-match's, with the
// first-fetched time the old state knew). One notice says why the state
// was not trusted and what the re-match found. A dry run decides the same
// way from the same reads (Options.Dest is a read-only view of the Maildir,
// whose INBOX it never creates), shows the same notice and exactly the
// fetches and deletions the real run will make, and writes nothing, not
// even the identity file.
//
// # Crash safety
//
// The claim: after a kill -9 or power loss at any instant, the next run
// leaves each server message in the Maildir exactly once, and the server
// loses no message that is not durably delivered.
//
//   - No loss. A DELE is sent only after the message's done record is
//     fsynced, which follows Publish: the file was fsynced in tmp/, renamed
//     into new/, and new/ fsynced (DESIGN invariant 1). The server deletes
//     only at QUIT; a connection that dies before QUIT's reply leaves every
//     message on the server.
//   - No duplicate from a crash after delivery. Every file that reaches
//     new/ has a synced P record naming its unique name before the rename,
//     and a D record after (synced with the next batch's records, and in
//     any case before the message's DELE): ledger.Deliver. On start-up a P
//     without D is looked up in new/ and cur/ (ledger.Resolve with
//     maildir.Mailbox.Find, by the core of the unique name, so a mail
//     reader's renames do not hide it): found means delivered (a D record
//     is added), missing means the rename never became durable and the
//     message is fetched again under a new name. A D is never re-checked,
//     so a message the user has since read, moved or deleted is not
//     fetched again.
//   - No duplicate from a lost QUIT. The done record survives until the
//     server stops listing the UIDL: a message still on the server that the
//     state says was delivered is deleted without being fetched again (keep
//     mode: simply not fetched).
//   - No delete by a reused UIDL. X records (written once QUIT's +OK came)
//     and compaction drop UIDLs that left the server, so a server that later
//     hands the same UIDL to a new message gets that message fetched.
//
// The limits, each announced by a notice when it applies:
//
//   - An MDA leaves nothing to look for. Its P record with "-" is synced
//     before the command runs (ledger.DeliverNow); its delivery is complete
//     when the command exited 0; the done record follows at once, synced
//     before any DELE. A crash in the instant between the MDA's exit and
//     that record's sync leaves the P record: the message is fetched again
//     and may reach the MDA twice (a duplicate, never a loss), which a
//     notice says.
//   - A server without UIDL: delete mode still works (deliver, DELE, QUIT),
//     but nothing can be journaled, so a run interrupted between a delivery
//     and QUIT's reply fetches those messages again. Keep mode is refused.
//   - A pending delivery whose file the user moved out of new/ and cur/
//     between the crash and the next run is fetched again.
//
// # Errors
//
// A refused login is failure.Auth; IN-USE, LOGIN-DELAY, SYS/TEMP, a -ERR
// greeting and network trouble are failure.Temporary. A port that does not
// answer like a POP3 server (an IMAP greeting, say) or a reply that breaks
// the protocol is failure.Protocol. A message the server refuses
// (RETR -ERR) or an MDA rejects is reported (report.Error), stays on the
// server, and the run goes on, ending with failure.Partial.
//
// A disk error (a full disk, a quota) stops the fetching with
// failure.LocalIO, and what fits is kept: every message staged completely
// before it is published in the usual order (pending records synced, files
// fsynced and renamed, new/ fsynced, done records synced), then deleted on
// the server (DELE and QUIT, only for messages whose done record is
// synced); the error says how many were delivered and how many wait on the
// server. The RETRs still in flight when the disk filled (up to a window)
// are read and discarded rather than the connection dropped and a new one
// opened: that keeps the session in step for the DELEs at the cost of at
// most a window of messages' bytes, and needs no second login, which a
// server may refuse (LOGIN-DELAY) or answer IN-USE while it still holds
// the first session's lock. Should that reading fail, nothing is deleted in
// that session; the next run deletes what was delivered.
//
// Its API is not a stable library interface: the package sits at the top
// of the module only because the project keeps its engines and its store
// there (see the README's Architecture); nothing outside mailfetch
// imports it, and the packages below it live under internal/.
package fetch
