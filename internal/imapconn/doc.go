// Package imapconn is mailfetch's IMAP wire layer: one authenticated
// connection (Session, dialed by a Dialer) behind Conn, the narrow
// interface the sync engine uses, over go-imap v2's imapclient. Every
// round trip and every guard against go-imap v2 beta.8's traps is here;
// an engine sees folders, UIDs, flags, metadata, and message bodies as
// streams already LF-converted and length-checked, never a go-imap type
// or a literal. It knows nothing of Maildir, state or reports.
//
// # Connecting
//
// Dial connects (implicit TLS, or STARTTLS done by hand, required: no
// fallback to plain text), checks the greeting (a POP3 or SMTP server on
// the port is failure.Protocol with a message that names it), logs in
// with the mechanism asked for (auto: AUTH=PLAIN where offered, else
// LOGIN) after checking that the server offers it and that the
// connection may carry the credentials, and enables UTF8=ACCEPT where
// offered (RFC 6855: messages with UTF-8 headers are not downgraded).
// Deadlines belong to the transport connection (imapclient's fixed 30 s
// and 5 min ones are ignored by it); the trace is the transport's, which
// redacts credentials, never imapclient's DebugWriter; STARTTLS is done
// before the client starts, so that TLS sits below the trace and the
// deadlines.
//
// Between the transport and imapclient sits the wire filter (package
// wire): it hides from go-imap the mailbox names it would refuse (one
// such name fails a whole LIST and the connection), fixes '&' in UTF-8
// names both ways, names another protocol's greeting, and tells a
// connection go-imap closed on a response it could not parse
// (failure.Protocol: a later run meets it again) from one that was cut
// (failure.Temporary).
//
// # Folders
//
// ListFolders sends LIST "" "*" RETURN (STATUS ...) with LIST-STATUS,
// else LIST and pipelined STATUS; NAMESPACE in the same round trip. The
// prefix of the first personal namespace (Courier's "INBOX.") is taken
// off folder paths, as mbsync's "Path INBOX." does; a folder's Name stays
// the server's. A name that does not decode is reported by its raw bytes
// (wire.DisplayName) and marked Unusable.
//
// Select sends SELECT (CONDSTORE where offered) and UID SEARCH ALL
// (ESEARCH where offered) in one round trip; SearchAll trusts the list
// for deletions only when its size equals the message count.
//
// # Fetching
//
// FetchMeta is the pre-pass (UID FETCH RFC822.SIZE FLAGS INTERNALDATE);
// FetchBodies streams every body with one UID FETCH (UID FLAGS
// INTERNALDATE BODY.PEEK[]), BODY.PEEK so that the server's \Seen is
// never set; FetchFlags and FetchChanges use CHANGEDSINCE under
// CONDSTORE; Store groups flag changes into one UID STORE per distinct
// change, with UNCHANGEDSINCE, and reports which it confirmed; Expunge
// is \Deleted then UID EXPUNGE of exactly its UIDs, with UIDPLUS only.
//
// A server may send BODY[] before UID in a FETCH response. go-imap routes
// a UID FETCH's responses by the UID seen before the first literal, so
// such a body goes to the unilateral handler (counted as an orphan) and
// its message comes back missing. Every fetch that carries a literal
// (bodies, headers, Message-ID fields, content digests) goes through one
// mechanism, fetchLiterals: the missing messages are then fetched at once
// with FETCH by sequence number, which go-imap routes by the number
// every response starts with; numbers come from FetchMeta's responses,
// valid while no EXPUNGE arrived since (RFC 3501 forbids one during a
// FETCH), else read again. A body is taken for the message its number
// stands for and kept only once the UID of the same response, wherever
// it comes, matches; a body without UID, or with another, is dropped and
// tried again next time. The Dialer remembers the quirk: every later
// fetch of the run goes by sequence number straight away. The UID FETCH
// stays the default: it does not depend on sequence numbers, which an
// expunge by another client shifts, and it is what conforming servers
// are fastest with.
//
// # go-imap v2 beta.8 guards
//
// Each trap of LIBRARIES.md has a guard here: no command is sent with an
// empty UID set (uidset.go); a body's length is checked against the
// literal's announced size (literalGuard); every requested UID must come
// back (or be gone from the server), and bodies that arrive without a UID
// are counted by the unilateral handler, then fetched by sequence number
// (above); FETCHes are always drained, or the connection is aborted
// first, and a literal that failed mid-read is never read again;
// capabilities are checked before CONDSTORE, ESEARCH, LIST-STATUS,
// UIDPLUS, NAMESPACE, UTF8=ACCEPT and each SASL mechanism are used.
//
// Watch mode (IDLE) and pushing local changes (APPEND, CREATE, UID MOVE)
// are to be added to Conn the same way; never go-imap's MOVE fallback,
// which can delete mail.
package imapconn
