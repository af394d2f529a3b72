// Package peerconf reads the configs of the mail fetchers people switch from
// (mbsync, offlineimap, getmail6, fetchmail, mpop) and writes the equivalent
// mailfetch config.toml: `mailfetch import PEER [FILE]`.
//
// Each peer's format is read the way the peer itself reads it (the rules are
// in the comment at the top of each peer's file): a file whose grammar the
// peer refuses (an unclosed quote, an option outside its section, a server
// option after fetchmail's user options, a reference to a store not yet
// defined) is refused here too, with a *SyntaxError that names the file and
// the line. An option the import does not know is not an error (a newer
// version of the peer may know it): like every setting without an
// equivalent, it becomes a comment that names it, its value (never a
// secret's) and what mailfetch does instead. A setting that has an
// equivalent becomes a key. The import prefers a comment to a guess:
//
//   - A plaintext password is never written: a commented password-command
//     line says where it was, for the user to move it into a password
//     manager.
//   - An account that cannot work as it is (a tunnel, a missing host or
//     user, a folder renamed between the sides, a second account on the
//     same mailbox or Maildir) is written commented out, with the reason.
//   - A destination mailfetch cannot write (an mbox file, SMTP elsewhere)
//     becomes a new Maildir ~/Mail/NAME, with a note that says so.
//   - When the peer never sent a password in clear without TLS, the
//     account gets no allow-plaintext: mailfetch then refuses to log in
//     until the user chooses TLS or allows it.
//
// Notes marked for attention (Result.Warnings) are those a user must read
// before the first run; the CLI repeats them on standard error.
//
// The import reads files only: it runs no command the peer's config names
// (mpop's eval, offlineimap's Python), connects to no server and writes
// nothing.
package peerconf
