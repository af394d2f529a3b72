// Package sync is mailfetch's IMAP engine: it mirrors an account's IMAP
// folders into a local Maildir tree (or, with an MDA, fetches new mail
// into a command). It speaks no protocol itself: every round trip goes
// through an imapconn.Conn (internal/imapconn, over go-imap v2), which
// a test can replace by one in memory. Inside this package the standard
// library's "sync" is imported as gosync.
//
// # A run
//
// One connection logs in, lists the folders with their STATUS (see
// imapconn), selects them with the patterns (mbsync's: '*', '%', '!' excludes, the last match wins) and
// maps each to a local folder with maildir.Store.FolderDir; a name that
// cannot be mapped safely is reported and skipped, never written outside
// the root.
//
// The prefix of the first personal namespace (Courier's "INBOX.") is
// taken off folder paths, as mbsync's "Path INBOX." does: "INBOX.Archive"
// is the local folder "Archive", and patterns match "Archive" (for a
// folder that vanished from the server as for the listed ones); the
// server's name stays the folder's name in SELECT, in the state and in
// events. A Maildir an older mailfetch filled keeps its names with the
// prefix (see legacyDir).
//
// A folder name that go-imap cannot decode (not modified UTF-7; CR, LF
// or NUL; not UTF-8 once UTF8=ACCEPT is on) is reported with its raw
// bytes (\xHH for every byte that is not printable ASCII), counts as
// failed (the run is Partial) and is never selected; a pattern spelled
// like the report names it, so that an exclude silences it. Folders then
// sync in parallel, each over a connection of its own (Jobs, default 4, at most 8: Dovecot allows 10 per user and IP).
// A folder's failure is reported and the others complete; Run then fails
// with failure.Partial.
//
// A folder whose STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ)
// equals what its last completed sync recorded, and whose local copy has
// no change, is not even selected: a sync with nothing to do costs one
// LIST-STATUS. Without CONDSTORE, flag changes on the server cannot be
// seen that way, so every folder is selected. Locally, such a folder
// usually costs no more than a few stat(2)s: its skip mark (mark.go)
// matches when its STATUS, its journal file and the change times of its
// new/ and cur/ are what they were when the folder was last seen in step,
// so neither its journal is read nor its Maildir listed. Otherwise the
// journal is replayed and the Maildir listed, and every message checked.
// A run that pushed flags proves with a UID FETCH (CHANGEDSINCE) that its
// own STOREs were the folder's only change since the SELECT, and then
// records the HIGHESTMODSEQ they led to, so that they do not make the
// next run look at the folder again.
//
// A selected folder: SELECT (CONDSTORE) and the UIDs on the server,
// trusted for deletions only when their number equals the message count;
// the flags of known messages (changed since the last sync's
// HIGHESTMODSEQ under CONDSTORE, else all); a pre-pass of the new
// messages' sizes, flags and dates; then one stream of all their bodies
// (BODY.PEEK: the server's \Seen is never set). Then flags are merged and
// stored both ways, server expunges are applied locally, and local
// deletions are pushed if asked. What to do is decided first, by a pure
// step (planFolder, plan.go: the folder's state, the server's view and
// the local listing in, a folderPlan out: what to fetch, the flag merges,
// the deletions each way, the mass-deletion guard's verdict), and done
// after, in that order (apply.go).
//
// A server that sends BODY[] before UID is fetched by sequence number
// (see imapconn): a body is published only when the UID of its response
// matches, and a Notice says so once per run.
//
// # Messages on disk
//
// A message is stored byte for byte as the server stores it: IMAP serves
// CRLF line ends, the file gets LF (every CRLF becomes LF; a lone CR is
// kept). Dovecot's own Maildir files and Unix mail readers use LF, so a
// local file equals the server's Maildir file (mbsync does the same). A
// message goes into cur/ with its flags when it has any (\Seen S,
// \Answered R, \Flagged F, \Deleted T, \Draft D), else into new/; its
// mtime is the INTERNALDATE.
//
// # Flags: the three-way merge
//
// The state keeps, per message, the synced flags both sides last agreed
// on: the base. Each flag is merged on its own. Both sides have it: kept.
// Neither has it: dropped. One side has it: if the base lacked it that
// side added it, and it is set on both (additions are a union); if the
// base had it the other side removed it, and it is cleared on both. So a
// removal wins only when the other side did not add the flag. Flags that
// IMAP cannot carry (Maildir P, keyword letters) stay local and are kept
// when a file is renamed. Changes go to the server as UID STORE
// +FLAGS/-FLAGS, grouped so that all messages with the same change share
// one command, with UNCHANGEDSINCE under CONDSTORE; a change the server
// does not confirm keeps the old base and is merged again next run.
// After a re-match (below) the base is the flags both sides share, so the
// first merge takes their union and removes nothing.
//
// # Deletions
//
// A known message missing from the server's UID list was expunged there:
// its local file is removed. A message whose local file was removed stays
// on the server and is never fetched again; with ExpungeRemote it is
// marked \Deleted and removed with UID EXPUNGE of exactly its UID
// (UIDPLUS; without it nothing is expunged, and a Notice says so). Never a
// plain EXPUNGE, which would remove other \Deleted mail, and never
// go-imap's MOVE fallback. A folder that vanished from the server is left
// alone locally, with a Notice.
//
// A missing file counts as a deletion only in the local folder the state
// describes (DESIGN invariant 8). Each local folder carries an identity
// (maildir.IDFile) that its state records (B); a folder whose identity is
// missing or another one (a new Maildir at a changed path, an unmounted
// disk, a typo in --maildir) is not the one the state describes, and the
// sync re-matches instead (below): nothing is deleted on either side, what
// is there is kept, the rest is fetched, and a Notice says why. A version
// 1 state, which recorded no identity, describes the folder when the
// folder holds one of its messages or when it knows of no message file.
//
// No mass deletion (DESIGN invariant 9): a run does not remove more than
// 100 messages, or more than a quarter of a folder when that is more than
// 10, on the server because they are missing locally, or locally because
// the server no longer lists them. It holds those deletions back, syncs
// the rest of the folder, and fails it with failure.Guard and a message
// naming --allow-mass-delete (Options.AllowMassDelete), which lets the
// next run do them. Messages held back from an expunge are recorded as
// deleted locally.
//
// # UIDVALIDITY and re-matching
//
// When a folder's UIDVALIDITY changes, or a folder has no state but its
// local copy has mail (a lost state, a Maildir written by another tool),
// or the local folder is not the one the state describes, the state is
// rebuilt by re-matching: each local message is paired with a server
// message, under an unchanged UIDVALIDITY first by the file the state
// delivered it into, then by Message-ID and size (the server's
// RFC822.SIZE, kept in the state; computed from the file when the state
// does not know the file), messages without Message-ID by a SHA-256 of
// their content. Pairs keep their file; server messages without a pair
// are fetched; local messages without a pair are kept untracked. Nothing
// is downloaded twice, nothing deleted, and a Notice says what was done.
//
// What the state knew carries over. A message the user deleted locally
// stays deleted: under the same UIDVALIDITY by its UID; across a change by
// the match key its R record carries (match.go: a digest of its Message-ID
// or, without one, of its header, fetched from the server when the
// deletion was recorded) and its size, when exactly one new message has
// them. A flag the user removed locally since the last sync is removed on
// the server too; otherwise the first merge after a re-match takes the
// union of both sides' flags. A deletion made after the last sync and
// before a UIDVALIDITY change is not known to the state and cannot be
// carried: that message is fetched again. An MDA keeps no files: its state
// keeps a digest of each Message-ID, which pairs the same way.
//
// # State
//
// Each folder has a journal StateDir/imap/<escaped name>.journal
// (maildir.Journal: one CRC-checked record a line, a torn last record
// ignored). Records are fields separated by one space; names are escaped
// (%XX for '%' and every byte outside '!'..'~', "%" alone for ""):
//
//	V 2                               format version (first record; 1 is
//	                                  read too: it has no B, and R no key)
//	N <folder>                        the server's folder name
//	B <identity>                      the local folder's maildir identity
//	U <uidvalidity>
//	L <uid>                           every UID <= it is handled
//	Q <modseq>                        HIGHESTMODSEQ merged (CHANGEDSINCE base)
//	S <uidvalidity> <uidnext> <messages> <highestmodseq>  | S -
//	                                  STATUS when a sync last completed
//	G 0|1                             the folder vanished from the server
//	M <uid> <unique> <flags> <size>   a delivered message: its file's unique
//	                                  name, merge base ("-" for none), RFC822.SIZE
//	P <uid> <unique> <flags> <size>   a delivery in doubt (intent)
//	D <uid>                           the pending delivery is done
//	F <uid> <flags>                   new merge base
//	R <uid> [<key>]                   the local file was removed; kept on the
//	                                  server; key: its match key (match.go)
//	X <uid>                           forgotten (expunged)
//
// Next to it, <escaped name>.skip holds the folder's skip mark: one line
// that only ever needs comparing, never parsing (see mark.go).
//
// For an MDA the unique field is "-" followed by a digest of the
// Message-ID. Records are appended as work is done and the journal is
// rewritten atomically (compacted: V N U L Q S B, then M and R, then P) at
// the end of each folder.
//
// Deliveries follow DESIGN invariant 2, per batch: Stage each message into
// tmp/, journal "P" for all and fsync, Publish (fsyncs, renames, one
// directory fsync), journal "D" for all and fsync. On start-up a P without
// D is looked up by its unique name (the part before the first ','; mail
// readers may rewrite what follows): found means delivered, missing means
// fetch again. A run killed at any instant therefore fetches every message
// exactly once. An MDA delivers inside Stage, so its P is journaled before
// and its M right after, one message at a time; a P without M is fetched
// again (a duplicate is possible in that instant, a loss is not).
//
// Its API is not a stable library interface: the package sits at the top
// of the module only because the project keeps its engines and its store
// there (see the README's Architecture); nothing outside mailfetch
// imports it, and the packages below it live under internal/.
package sync
