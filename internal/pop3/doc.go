// Package pop3 is a small, strict POP3 client: RFC 1939 (the protocol),
// RFC 2449 (CAPA, extended response codes, PIPELINING), RFC 2595 (STLS),
// RFC 5034 (AUTH with SASL) and RFC 6856 (UTF8, sent with the login
// command: see EnableUTF8). It knows nothing of Maildir: a message is an
// io.Reader of its bytes.
//
// Guarantees a caller can build on:
//
//   - Streaming, bounded memory. RETR and TOP return a reader over the
//     socket through one fixed buffer; a message is never held whole. Every
//     line is bounded (Options.MaxLine for status and listing lines,
//     Options.MaxMessageLine for message lines) and so is every multi-line
//     listing (Options.MaxListing): a hostile server gets an error, not
//     unbounded memory.
//   - No silent short messages. A message reader ends with io.EOF only at the
//     terminating "." line. A connection cut before it is an error wrapping
//     io.ErrUnexpectedEOF, from Read and again from Close.
//   - Message bytes as Maildir wants them: dot-stuffing is undone and CRLF
//     line endings become LF. Nothing else changes: a bare CR stays a bare
//     CR, 8-bit bytes pass through.
//   - Errors name the command ("pop3: RETR 17: ..."), never a password.
//     A -ERR reply is an *Error carrying the RFC 2449 response code; it is
//     classified for package failure (Auth for a refused login, Temporary for
//     IN-USE, LOGIN-DELAY and SYS/TEMP, and for a -ERR greeting: a busy
//     server). Network errors keep their kind. A reply that breaks the
//     protocol is failure.Protocol, and so is a greeting that is not +OK or
//     -ERR: another service on the port, named when it is recognisable
//     ("port 993 answered like an IMAP server; POP3 is port 995 ...").
//   - A desynchronised session is never reused. After a network error, a
//     cancelled context or a malformed reply the Client refuses further
//     commands; a -ERR reply or a listing that failed validation leaves it
//     usable.
//
// A Client is not safe for concurrent use. Every method takes a
// context.Context; cancelling it interrupts blocked I/O by setting a past
// deadline on the connection, after which the Client is unusable.
package pop3
