// Package transport is the network layer below the POP3 and IMAP engines:
// dialing, implicit TLS and in-place STARTTLS upgrades, certificate
// verification, SASL mechanisms, deadlines and a protocol trace. Both engines
// use it the same way, so neither imports the other.
//
// What it guarantees (DESIGN invariants 6 and 7):
//
//   - TLS is 1.2 or later and always verified: against the system roots, or
//     only the CA certificates of Security.CAFile, or a pinned SHA-256
//     fingerprint of the server's certificate. A certificate that fails is
//     reported with its fingerprint and the settings that decide trust
//     (ca-file, fingerprint), as failure.Certificate (retrying will not help).
//     A server that answers the handshake in plain text is failure.Protocol,
//     with the port or --tls to use instead.
//   - Every Read and Write of a Conn has a deadline of now + Timeouts.IO,
//     re-armed for each operation: a large message on a slow link that keeps
//     moving never times out, while a server that goes silent fails within
//     the IO timeout, with an error that errors.Is os.ErrDeadlineExceeded and
//     that failure.KindOf classifies as Temporary.
//   - A server that keeps sending but trickles fails too: while the client
//     waits for a reply, it must bring MinTransfer bytes per IO timeout of
//     waiting (pauses of silence, which the IO timeout bounds, do not count;
//     a write starts a new reply). The error errors.Is ErrTooSlow and is
//     Temporary. Conn.SetMinRate turns this off for a legitimately quiet
//     wait (IMAP IDLE).
//   - Cancelling a context the Conn is bound to (Dial's, or one given to Bind
//     or StartTLS) unblocks its I/O at once; the Conn is unusable afterwards.
//   - A Trace shows the conversation but never a password, an OAuth token or
//     any SASL response: those are replaced by "<redacted>".
//
// Dial and network failures are failure.Temporary: a later run may succeed;
// a host name that DNS says does not exist is failure.NoHost.
//
// Policy that both protocols share lives here once (DESIGN invariant 11):
// Classify, the kind of an error from a connection (each protocol adds
// only its reply codes); AutoLogin, the choice of "auth = auto" from what
// a server offers, with each protocol's order of preference side by side
// (POP3Auto, IMAPAuto); DefaultPort, the port of a protocol and TLS mode.
package transport
