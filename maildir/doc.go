// Package maildir stores mail in Maildir folders (cr.yp.to/proto/maildir.html
// with the Maildir++ extensions), delivers to an MDA command instead when
// asked, and keeps the durable state the engines need: files replaced
// atomically and append-only journals. It knows nothing of POP3 or IMAP.
//
// # Delivery invariants
//
// People keep their only copy of their mail here: a lost message is the
// worst bug, a duplicate the second worst. So:
//
//  1. A message's bytes are written into tmp/ and made durable there
//     before the file is renamed into new/ or cur/; the directory is
//     fsynced after the rename. Only then is the message durable
//     (Staged.Path is set) and may the engine record it and acknowledge it
//     to the server. Stage and Publish split this per batch: Stage writes,
//     Publish makes the bytes durable (see Durability modes), renames, and
//     fsyncs each touched directory once.
//  2. A rename never replaces a file (renameat2 RENAME_NOREPLACE, else
//     link and unlink).
//  3. A failed delivery (the reader's error, a full disk, a cancelled
//     context) leaves nothing in new/ or cur/ and removes its tmp/ file.
//  4. A message streams through one 64 KiB buffer: its size does not
//     change the memory a delivery needs. Only its header, 64 KiB at most,
//     is kept to decode Message-ID, From, Subject and Date.
//  5. Files are created 0600, directories 0700. A folder's directories are
//     fsynced when they are created, so that a folder holding durable
//     mail cannot vanish in a crash.
//  6. Nothing is written into a path that is a file or into a directory that
//     is not a Maildir.
//
// After a crash, an engine that journaled "pending <unique>" before
// Publish and "done" after it (internal/ledger) asks Mailbox.Find whether
// a pending message made it: found means delivered, missing means fetch
// it again. Find looks for the core of the unique name (the part before
// its first ','), so a mail reader that renamed the file (moved it into
// cur/, added flags, rewrote the Maildir++ fields) does not hide it.
//
// # Mailboxes and destinations
//
// The engines see a folder as a Mailbox: Stage, Publish and Discard (a
// Target), its identity, Find, Scan, Open of a message, SetFlags, Remove.
// A *Folder is one; a store opened by OpenView gives read-only mailboxes
// for dry runs, which read what exists (nothing, when the folder is
// missing) and fail every write. What the CLI gives both engines is a
// Destination: a Store (its mailboxes, by folder path) or an MDA.
//
// # Durability modes
//
// How a batch's bytes become durable before their renames is decided once
// per file system (device) a Store writes to, when the first folder on it
// is opened:
//
//   - syncfs per batch, on Linux 5.8 or later when statfs says ext2/3/4,
//     xfs, btrfs or tmpfs: Stage writes and closes the file, no fsync.
//     Publish calls syncfs(2) once on the file system, which writes back
//     the data and metadata of every file written so far and returns the
//     first writeback error since the descriptor it was given was opened;
//     then it renames the files and fsyncs each touched directory. The
//     descriptor is a tmp/ directory opened before the first of the
//     files still staged was created, and kept open while any is staged,
//     so that no error of theirs can have come before it. An error from
//     syncfs fails every file staged before it returned, in this batch and
//     in any other not yet published (the kernel reports an error once,
//     to one caller): they are removed from tmp/, never renamed.
//   - fsync per file everywhere else (NFS, CIFS, FUSE, overlayfs, other
//     or unknown file systems, older kernels, other systems), whose syncfs
//     may flush less or report nothing: Stage hands the file's fsync to a
//     pool of 32 running while the next messages are written, and Publish
//     waits for it.
//
// Both keep invariant 1: the bytes are durable before the rename, the
// rename before Publish returns. The first is faster where it is allowed
// (10,000 messages, 340 MB, in batches of 64 on ext4: 1.3–3.6 s rather
// than 4.2–4.9 s with 32 fsyncs in flight, BenchmarkDeliverMix10000),
// because a file system writes everything dirty in one go far faster than
// thousands of single-file flushes, each writing an inode, its parent
// directory and flushing the disk's cache. Its cost: a syncfs also writes
// what other programs left dirty on the same file system, so a Publish can
// wait for them.
//
// # File names
//
// A message file is named by its unique name, plus an info in cur/:
//
//	<sec>.M<usec>P<pid>Q<n>R<random>.<host>,S=<size>       in new/
//	<sec>.M<usec>P<pid>Q<n>R<random>.<host>,S=<size>:2,FS  in cur/
//
// sec and usec are the delivery time, pid the process, n a counter within
// the process, random 16 hex digits (64 bits from crypto/rand), host the
// host name with '/' written \057 and ':' \072 (and '!', '\', ',' and
// control characters in the same octal form). ",S=<size>" (Maildir++) is
// the exact file size in bytes. The same message is in tmp/ under the name
// without ",S=" while it is written.
//
// The info is "2," and the flags in ASCII order, each once: D (draft),
// F (flagged), P (passed), R (replied), S (seen), T (trashed), and any
// other letter another program set (Dovecot's keywords a–z), which is kept.
// Names are read tolerantly: '!' is accepted in place of ':' (Maildir++ on
// file systems that forbid ':'), anything after a ',' that follows the
// flags is kept, an info that is not "2," is kept verbatim. Names are
// always written with ':'.
//
// # Folders
//
// The root of a Store is INBOX. Folder paths are lists of UTF-8 names
// (["Archive", "2024"]). In the Maildir++ layout (the default) a folder is
// the directory ".Archive.2024" in the root, with an empty "maildirfolder"
// file in it. Each name is escaped so that it cannot break the layout and
// so that the original can be recovered exactly: '.', '/', '%', control
// characters and bytes that are not UTF-8 become %XX (two upper-case hex
// digits of the byte); all other characters, UTF-8 included, are kept
// ("a.b" → ".a%2Eb", "100%" → ".100%25", "Entwürfe" → ".Entwürfe").
// Note that Dovecot writes modified UTF-7 on disk unless its
// mail_location says UTF-8.
//
// In the fs layout a folder is the directory "Archive/2024" below the root,
// and each directory on the way is a Maildir of its own. There '/', '%',
// control characters and invalid UTF-8 are escaped the same way, '.' only
// at the start of a name, and a name that is tmp, new or cur (in any case)
// gets its first letter escaped ("new" → "%6Eew").
//
// Names that cannot be mapped safely are refused: an empty name, "." and
// "..", a NUL, a directory name over 255 bytes.
//
// # Re-matching
//
// When an engine's state cannot say which file holds which server message
// (the state was lost, describes another Maildir, or the mail came from
// another tool), it looks for the message's content instead. A MatchKey
// is computed the same way from a server's bytes and from a file:
//
//   - the Message-ID, normalized by NormalizeMessageID: every white-space
//     byte removed (which undoes folding), then one pair of enclosing
//     angle brackets ("<a@b>" and " <a@b>" are "a@b"); case and anything
//     else are kept. The first Message-ID field counts.
//   - without a Message-ID, a SHA-256 digest of the header block: its
//     lines up to the empty line that ends it, each ended by one LF
//     whether it came with CRLF or LF.
//   - the size as a server counts it, with CRLF line ends: a local file
//     counts every LF not preceded by CR twice.
//
// A header alone (POP3 TOP n 0, IMAP BODY[HEADER]) gives the header part
// of the key without the message being downloaded. KeyWriter computes a
// key from bytes as they stream, with bounded memory; IndexMatches reads a
// folder for the keys wanted, reading a file whole only when its header
// matches, and keeps only the matching files; Take pairs one file with one
// message.
//
// # Durable state
//
// WriteFileAtomic replaces a small file: write a temporary file in the
// same directory, fsync, rename, fsync the directory.
//
// A Journal is an append-only file of records, one per line:
//
//	<crc32c> <payload>\n
//
// where crc32c is the CRC-32C (Castagnoli) of the payload as 8 lower-case
// hex digits; a payload is any bytes but '\n'. A torn or corrupt last line
// is what a crash leaves: it is ignored and cut off when the journal is
// opened. A corrupt line before the last is an error. Rewrite compacts a
// journal with WriteFileAtomic.
//
// Its API is not a stable library interface: the package sits at the top
// of the module only because the project keeps its engines and its store
// there (see the README's Architecture); nothing outside mailfetch
// imports it, and the packages below it live under internal/.
package maildir
