// Package failure classifies errors into the few kinds a user (or cron) acts
// on differently, and maps each kind to mailfetch's documented exit code.
//
// Engines wrap an error once, where its kind is known (a refused login is
// Auth, a dial timeout is Temporary, ENOSPC is LocalIO); the CLI reads the
// kind back with KindOf and exits with Code. An error that was never
// classified is Other.
package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// Kind is the class of a failure. Each kind has its own exit code.
type Kind int

const (
	// Other is an error of no more specific kind: a protocol violation, a
	// command the server refused for good, a bug.
	Other Kind = iota
	// Usage is bad input from the user: flags, config file, account names.
	Usage
	// Auth is a login the server refused.
	Auth
	// Temporary is a failure that a later run may not meet: network, DNS,
	// timeouts, a server that is busy or says the mailbox is in use.
	Temporary
	// Partial means some messages or folders failed while others completed.
	Partial
	// Locked means another run holds the account's lock.
	Locked
	// LocalIO is a failure of the local file system: disk full, permissions,
	// a Maildir path that is not a Maildir.
	LocalIO
	// Protocol is a server that does not speak the protocol as expected: the
	// wrong protocol on the port (an IMAP client at a POP3 port), a reply
	// that can never parse. A later run meets it again; a human must act.
	Protocol
	// NoHost is a host name that does not resolve (DNS says it does not
	// exist, not that DNS is unreachable).
	NoHost
	// Certificate is a server certificate that could not be trusted: an
	// unknown authority, a wrong host name, an expired certificate, or a
	// fingerprint that does not match the pinned one.
	Certificate
	// Guard is a run that stopped before deleting a large share of a
	// folder (on the server or locally) because of a difference it
	// observed: nothing was deleted, and an explicit flag allows it.
	Guard
	// Unavailable is a temporary failure that has lasted longer than the
	// account allows (fail-after): no longer "try again later" but
	// "look at this account".
	Unavailable
	// Interrupted is a run stopped by SIGINT (Ctrl-C): what was delivered is
	// kept and nothing is half-done; the next run goes on.
	Interrupted
	// Terminated is a run stopped by SIGTERM (a service manager, a
	// shutdown), with the same guarantees as Interrupted.
	Terminated
)

// Exit codes. They are part of mailfetch's interface: documented in the
// README and in --help, and never renumbered.
const (
	CodeOK          = 0
	CodeOther       = 1
	CodePartial     = 3
	CodeLocked      = 4
	CodeGuard       = 5   // a mass deletion was refused; nothing was deleted
	CodeCertificate = 6   // the server's certificate is not trusted
	CodeUsage       = 64  // sysexits EX_USAGE
	CodeNoHost      = 68  // sysexits EX_NOHOST
	CodeUnavailable = 69  // sysexits EX_UNAVAILABLE: temporary for too long
	CodeLocalIO     = 74  // sysexits EX_IOERR
	CodeTemporary   = 75  // sysexits EX_TEMPFAIL: cron should simply retry
	CodeProtocol    = 76  // sysexits EX_PROTOCOL
	CodeAuth        = 77  // sysexits EX_NOPERM
	CodeInterrupted = 130 // 128 + SIGINT (Ctrl-C), as a shell reports a killed job
	CodeTerminated  = 143 // 128 + SIGTERM
)

// Kinds lists every kind, in the order of their documentation: the JSON
// error_kind values are their String.
var Kinds = []Kind{Other, Usage, Auth, Temporary, Partial, Locked, LocalIO, Protocol,
	NoHost, Certificate, Guard, Unavailable, Interrupted, Terminated}

// String names the kind as it appears in --json output.
func (k Kind) String() string {
	switch k {
	case Usage:
		return "usage"
	case Auth:
		return "auth"
	case Temporary:
		return "temporary"
	case Partial:
		return "partial"
	case Locked:
		return "locked"
	case LocalIO:
		return "local-io"
	case Protocol:
		return "protocol"
	case NoHost:
		return "no-host"
	case Certificate:
		return "certificate"
	case Guard:
		return "guard"
	case Unavailable:
		return "unavailable"
	case Interrupted:
		return "interrupted"
	case Terminated:
		return "terminated"
	}
	return "error"
}

// Code is the exit code for the kind.
func (k Kind) Code() int {
	switch k {
	case Usage:
		return CodeUsage
	case Auth:
		return CodeAuth
	case Temporary:
		return CodeTemporary
	case Partial:
		return CodePartial
	case Locked:
		return CodeLocked
	case LocalIO:
		return CodeLocalIO
	case Protocol:
		return CodeProtocol
	case NoHost:
		return CodeNoHost
	case Certificate:
		return CodeCertificate
	case Guard:
		return CodeGuard
	case Unavailable:
		return CodeUnavailable
	case Interrupted:
		return CodeInterrupted
	case Terminated:
		return CodeTerminated
	}
	return CodeOther
}

type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// Wrap marks err as being of kind k. It returns nil for a nil err. The
// message is unchanged: the kind only decides the exit code.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: k, err: err}
}

// New returns an error of kind k with the given message.
func New(k Kind, msg string) error { return &kindError{kind: k, err: errors.New(msg)} }

// KindOf returns the kind of err: the outermost kind given by Wrap, or else
// a kind guessed from well-known causes (network errors and timeouts are
// Temporary, a full disk or a permission error is LocalIO).
func KindOf(err error) Kind {
	if err == nil {
		return Other
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return guess(err)
}

func guess(err error) Kind {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT),
		errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		return LocalIO
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Temporary
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrPermission) {
		return LocalIO
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return NoHost
	}
	if isCertificateError(err) {
		return Certificate
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Temporary
	}
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &de) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTUNREACH) {
		return Temporary
	}
	return Other
}

// Code returns the exit code for err: CodeOK for nil.
func Code(err error) int {
	if err == nil {
		return CodeOK
	}
	return KindOf(err).Code()
}

// isCertificateError reports whether err is a failed verification of a
// server certificate (crypto/tls and crypto/x509 errors).
func isCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he)
}

// Combined is the kind of a run in which the errors failed of total parts
// (accounts, folders) failed: the kind they share when all parts failed
// alike (the network went down), Partial when some completed or they
// failed differently. Guard is kept even when other parts completed: a
// held-back mass deletion asks for the user's decision. Other for none.
func Combined(failed []error, total int) Kind {
	if len(failed) == 0 {
		return Other
	}
	kind := KindOf(failed[0])
	for _, err := range failed[1:] {
		if KindOf(err) != kind {
			return Partial
		}
	}
	if len(failed) < total && kind != Guard {
		return Partial
	}
	return kind
}
