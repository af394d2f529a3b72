package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Default timeouts, used where Timeouts leaves a field zero.
const (
	DefaultDialTimeout = 30 * time.Second
	DefaultIOTimeout   = 60 * time.Second
)

// Timeouts bounds the waits of a connection. A zero field takes its default;
// there is no way to wait forever (DESIGN invariant 7).
type Timeouts struct {
	// Dial bounds connecting: name resolution and the TCP handshake.
	Dial time.Duration
	// IO bounds each read and write, and each step of a TLS handshake: how
	// long the server may send nothing, or accept nothing, before the
	// connection fails. It is not a limit on a whole transfer, but it is the
	// window of the minimum transfer rate: while the client waits for the
	// server, a reply that keeps trickling must bring at least MinTransfer
	// bytes per IO window (see Conn).
	IO time.Duration
}

// MinTransfer is the least a server must send per IO window while it is
// sending at all: a reply that brings fewer bytes in that much waiting is a
// dead link (a stuck middlebox, a server that writes a byte a second), not
// a slow one. Even a 2G mobile link moves 1 KiB in a second.
const MinTransfer = 1 << 10

// maxTrickleGap is the longest pause between two arrivals of data that
// still counts as one transfer. A longer pause is silence, which the IO
// timeout bounds on its own: a server working on a long command is silent,
// or sends a progress line now and then (Dovecot's "* OK Searched 20% of
// the mailbox" comes every 10 seconds), and that must not count as
// trickling. A trickle of a byte or a line a second is well below it.
const maxTrickleGap = 2 * time.Second

// trickleGap is maxTrickleGap, or half the IO timeout when that is
// shorter, so that a short timeout (a test's) keeps the rule meaningful.
func trickleGap(io time.Duration) time.Duration {
	return min(maxTrickleGap, io/2)
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Dial <= 0 {
		t.Dial = DefaultDialTimeout
	}
	if t.IO <= 0 {
		t.IO = DefaultIOTimeout
	}
	return t
}

// Conn is a client connection to a mail server, plain or TLS, that owns its
// deadlines. It is a net.Conn; a protocol client reads and writes it like
// any other.
//
// Each Read and Write (and each step of a TLS handshake) re-arms a deadline
// of now + Timeouts.IO, so a server that stops sending or accepting data
// times out. A server that keeps sending, but trickles, fails too: while
// the client waits for the server's reply, the waiting in which data keeps
// arriving (pauses of less than two seconds, or half the IO timeout) must
// bring MinTransfer bytes per Timeouts.IO, else the Read fails with a
// failure.Temporary error that says how many bytes came in how long and
// errors.Is ErrTooSlow (and os.ErrDeadlineExceeded). The count starts again
// whenever the client writes (a new command: a new reply), after each
// MinTransfer bytes, and after a pause of silence; time the client spends
// elsewhere (writing a message to disk) never counts. SetMinRate turns the
// rule off for a long wait that is legitimately almost silent. Cancelling a bound context (Dial's, or one given to Bind or
// StartTLS) unblocks pending I/O at once and fails all later I/O: after that
// the Conn can only be closed.
//
// Read and Write may be called concurrently with each other and with Close,
// but not with StartTLS.
type Conn struct {
	raw  *deadlineConn
	tls  atomic.Pointer[tls.Conn] // set once StartTLS or Dial's handshake succeeded
	addr string

	trace atomic.Pointer[Trace]

	bytesRead    atomic.Int64
	bytesWritten atomic.Int64

	mu       sync.Mutex
	bindings map[int]func() bool // stop functions of context.AfterFunc, by id
	nextBind int
	closed   bool
}

var _ net.Conn = (*Conn)(nil)

// Dial connects to addr ("host:port") and, when sec.Mode is TLSImplicit,
// completes the TLS handshake before it returns. The Conn stays bound to
// ctx for its whole life: cancelling ctx later fails its I/O at once, so pass
// the context of the session, not one that ends when Dial returns.
//
// Errors start with "dial host:port: ". Network and timeout failures, and a
// DNS server that cannot be reached, are failure.Temporary; a host name
// that DNS says does not exist is failure.NoHost; an untrusted certificate
// is a *CertificateError, failure.Certificate; a server that answers the
// TLS handshake in plain text is failure.Protocol, with advice on the port
// or --tls; a bad CA file or fingerprint is failure.Usage.
func Dial(ctx context.Context, addr string, sec Security, t Timeouts) (*Conn, error) {
	t = t.withDefaults()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("dial %s: %w", addr, err))
	}
	var cfg *tls.Config
	switch sec.Mode {
	case TLSImplicit:
		if cfg, err = sec.TLSConfig(host); err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
	case TLSStartTLS, TLSNone:
	default:
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("dial %s: invalid TLS mode %d", addr, int(sec.Mode)))
	}

	d := net.Dialer{Timeout: t.Dial, Resolver: resolver}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, dialError(ctx, addr, t.Dial, err)
	}
	c := &Conn{
		raw:      &deadlineConn{Conn: nc, addr: addr, timeout: t.IO, gap: trickleGap(t.IO)},
		addr:     addr,
		bindings: make(map[int]func() bool),
	}
	c.Bind(ctx) // released by Close
	if cfg != nil {
		if err := c.handshake(ctx, cfg, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
	}
	return c, nil
}

// resolver looks host names up; nil is the system's. Tests replace it
// with one that asks a DNS server of their own.
var resolver *net.Resolver

// dialError names what went wrong in a few words and keeps the cause for
// errors.Is/As. A cancelled ctx is reported as its cause, not as a network
// failure: the user stopped the run.
func dialError(ctx context.Context, addr string, limit time.Duration, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("dial %s: %w", addr, context.Cause(ctx))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failure.Wrap(failure.Temporary, &opError{
			msg: fmt.Sprintf("dial %s: no connection within %v", addr, limit), err: err})
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		// DNS answered that the name does not exist: a typo or a domain
		// gone, which no later run will fix. (A resolver that cannot be
		// reached is not this, and stays temporary.)
		host, _, _ := net.SplitHostPort(addr)
		return failure.Wrap(failure.NoHost, &opError{
			msg: fmt.Sprintf("dial %s: no such host %q: check the host setting", addr, host), err: err})
	}
	msg := err.Error()
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		// "dial tcp 192.0.2.1:993: connect: connection refused" would name
		// the address a second time after our prefix: keep what follows it.
		msg = oe.Err.Error()
	}
	return failure.Wrap(failure.Temporary, &opError{msg: fmt.Sprintf("dial %s: %s", addr, msg), err: err})
}

// StartTLS upgrades the connection in place after the protocol's STLS or
// STARTTLS was accepted: the Conn keeps owning the deadlines, the trace and
// the byte counts, now over TLS. cfg comes from Security.TLSConfig. ctx
// bounds the handshake; cancelling it fails the Conn for good.
//
// Errors are classified like Dial's; the Conn is unusable after one.
func (c *Conn) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if cfg == nil {
		return errors.New("transport: StartTLS without a TLS configuration")
	}
	if c.tls.Load() != nil {
		return errors.New("transport: StartTLS on a connection that already uses TLS")
	}
	release := c.Bind(ctx)
	defer release()
	if err := c.handshake(ctx, cfg, false); err != nil {
		return fmt.Errorf("starttls %s: %w", c.addr, err)
	}
	return nil
}

// handshake runs the TLS client handshake over the raw connection and
// installs the TLS layer on success. Its I/O goes through deadlineConn, so
// each step is bounded by the IO timeout. implicit tells Dial's handshake
// from StartTLS's, for the advice given when the server does not speak TLS.
func (c *Conn) handshake(ctx context.Context, cfg *tls.Config, implicit bool) error {
	tc := tls.Client(c.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return handshakeError(ctx, c.addr, cfg.ServerName, implicit, err)
	}
	c.tls.Store(tc)
	// From now on the bytes that count for the transfer rate are the
	// protocol's, after decryption: a server that trickles one byte per
	// TLS record sends thirty times as many on the wire.
	c.raw.plaintextAbove.Store(true)
	return nil
}

// handshakeError classifies a failed handshake: an untrusted certificate
// (failure.Certificate) or a server that does not speak TLS on the port
// (failure.Protocol) will fail the same way next time; a server that went
// away or stalled may not (Temporary).
func handshakeError(ctx context.Context, addr, name string, implicit bool, err error) error {
	var verr *tls.CertificateVerificationError
	var cerr *CertificateError
	var rec tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &cerr):
		return failure.Wrap(failure.Certificate, err)
	case errors.As(err, &verr) && len(verr.UnverifiedCertificates) > 0:
		return failure.Wrap(failure.Certificate, &CertificateError{
			ServerName:  name,
			Fingerprint: Fingerprint(verr.UnverifiedCertificates[0]),
			Err:         verr.Err,
		})
	case ctx.Err() != nil:
		return fmt.Errorf("tls handshake: %w", context.Cause(ctx))
	case failure.KindOf(err) == failure.Temporary && errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("tls handshake: %w", err)
	case errors.As(err, &rec):
		return failure.Wrap(failure.Protocol, &opError{msg: plainTextAdvice(addr, rec.RecordHeader, implicit), err: err})
	case errors.As(err, &alert):
		return failure.Wrap(failure.Other, fmt.Errorf("tls handshake: the server refused: %w", err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return failure.Wrap(failure.Temporary, &opError{msg: "tls handshake: the server closed the connection", err: err})
	}
	return failure.Wrap(failure.KindOf(err), fmt.Errorf("tls handshake: %w", err))
}

// plainTextAdvice explains a server that answered a TLS handshake in plain
// text, and what to change. The first bytes tell the protocol ("+OK" is
// POP3, "* OK" IMAP), and with it the implicit-TLS port to use instead.
func plainTextAdvice(addr string, header [5]byte, implicit bool) string {
	_, port, _ := net.SplitHostPort(addr)
	got := string(header[:])
	if !implicit {
		return fmt.Sprintf("tls handshake: port %s answered STARTTLS in plain text (%q): the server did not switch to TLS", port, got)
	}
	tlsPort := ""
	switch {
	case strings.HasPrefix(got, "+OK") || strings.HasPrefix(got, "-ERR") || port == "110":
		tlsPort = "995"
	case strings.HasPrefix(got, "* ") || port == "143":
		tlsPort = "993"
	}
	advice := "use --tls starttls, or the server's port for implicit TLS"
	if tlsPort != "" {
		advice = fmt.Sprintf("use --tls starttls, or port %s for implicit TLS", tlsPort)
	}
	return fmt.Sprintf("tls handshake: port %s answered in plain text (%q), not TLS: %s", port, got, advice)
}

// Bind makes the cancellation of ctx fail the connection's I/O too, at once,
// in addition to the contexts bound before, until release is called. A
// protocol client binds each call's context this way. Cancellation is final:
// the Conn can only be closed afterwards, since the protocol state is
// unknown once a command is cut short.
func (c *Conn) Bind(ctx context.Context) (release func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	if ctx.Err() != nil {
		// AfterFunc would run later, in its own goroutine: the next
		// operation must already fail.
		c.raw.abort(context.Cause(ctx))
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { c.raw.abort(context.Cause(ctx)) })
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		stop()
		return func() {}
	}
	id := c.nextBind
	c.nextBind++
	c.bindings[id] = stop
	c.mu.Unlock()
	return func() {
		stop()
		c.mu.Lock()
		delete(c.bindings, id)
		c.mu.Unlock()
	}
}

// stream is what Read and Write go through: the TLS layer once there is
// one, else the raw connection.
func (c *Conn) stream() net.Conn {
	if tc := c.tls.Load(); tc != nil {
		return tc
	}
	return c.raw
}

// Read reads from the server, within the IO timeout. Bytes read are counted
// and given to the trace.
func (c *Conn) Read(p []byte) (int, error) {
	tlsOn := c.tls.Load() != nil
	n, err := c.stream().Read(p)
	if n > 0 {
		if tlsOn {
			c.raw.received(n)
		}
		c.bytesRead.Add(int64(n))
		if t := c.trace.Load(); t != nil {
			t.feed(fromServer, p[:n])
		}
	}
	return n, err
}

// Write sends to the server; each chunk of it must be accepted within the IO
// timeout. Bytes written are counted and given to the trace.
func (c *Conn) Write(p []byte) (int, error) {
	// The trace sees the bytes before the server can: the server's answer
	// to a SASL exchange ends the redaction, and must not be traced before
	// the last client response it answers.
	if t := c.trace.Load(); t != nil {
		t.feed(fromClient, p)
	}
	n, err := c.stream().Write(p)
	c.bytesWritten.Add(int64(n))
	return n, err
}

// Close closes the connection (sending a TLS close_notify, bounded by a
// short timeout) and releases the bound contexts. Pending Read and Write
// calls fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	stops := c.bindings
	c.bindings = nil
	c.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	if !c.raw.closing() {
		// Aborted: the close_notify could not be sent anyway.
		return c.raw.Conn.Close()
	}
	return c.stream().Close()
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the server's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline interrupts pending and later I/O when t is not after now, as
// net.Conn promises: protocol clients cancel a blocked call this way. A
// future or zero t lifts that, and is otherwise ignored: the Conn owns its
// deadlines, re-armed per operation, and a library's fixed per-response
// timeout (imapclient's) would fail large messages on slow links.
func (c *Conn) SetDeadline(t time.Time) error {
	c.raw.callerDeadline(true, true, t)
	return nil
}

// SetReadDeadline is SetDeadline for reads only.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.raw.callerDeadline(true, false, t)
	return nil
}

// SetWriteDeadline is SetDeadline for writes only.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.raw.callerDeadline(false, true, t)
	return nil
}

// TLSConnectionState returns the TLS state (version, cipher suite, the
// server's certificates) and true once the connection uses TLS; false
// before StartTLS or without TLS.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc := c.tls.Load(); tc != nil {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// SetMinRate turns the minimum transfer rate of reads on (the default) or
// off for this connection. Turn it off around a wait that is legitimately
// long and almost silent, and on again after it: IMAP IDLE, where a server
// sends nothing but a keep-alive line every few minutes, is the one such
// wait. The IO timeout still bounds each read; an IDLE longer than that
// needs it raised as well. Safe to call from any goroutine.
func (c *Conn) SetMinRate(on bool) {
	c.raw.rateMu.Lock()
	defer c.raw.rateMu.Unlock()
	c.raw.rateOff = !on
	c.raw.waited, c.raw.got = 0, 0
}

// BytesRead is the number of bytes read from the server so far (after TLS
// decryption: protocol bytes). Safe to call from any goroutine.
func (c *Conn) BytesRead() int64 { return c.bytesRead.Load() }

// BytesWritten is the number of bytes sent to the server so far.
func (c *Conn) BytesWritten() int64 { return c.bytesWritten.Load() }

// SetTrace sends a transcript of the conversation to t from now on; nil
// stops it. A Trace follows the state of one conversation to know what to
// redact, so it serves one Conn: SetTrace panics if t already traces
// another. Set it before the greeting is read.
func (c *Conn) SetTrace(t *Trace) {
	if t != nil && !t.owner.CompareAndSwap(nil, c) && t.owner.Load() != c {
		panic("transport: SetTrace with a Trace that already traces another connection; call NewTrace per connection")
	}
	c.trace.Store(t)
}

// aLongTimeAgo is a deadline that has passed: setting it unblocks I/O.
var aLongTimeAgo = time.Unix(1, 0)

// closeGrace bounds writes once Close started: the TLS close_notify is a
// courtesy, not worth waiting the IO timeout for a dead server.
const closeGrace = 2 * time.Second

// writeChunk is the most written under one deadline. Writing a large buffer
// in chunks re-arms the deadline as the server accepts data, so a slow but
// moving upload never times out (a net.Conn deadline covers a whole Write).
const writeChunk = 16 << 10

// deadlineConn is the TCP connection, below any TLS layer. It arms the
// deadline of each read and write itself, so the TLS handshake and every TLS
// record are bounded too, and it turns a cancellation or a caller's past
// deadline into a deadline that has passed.
type deadlineConn struct {
	net.Conn
	addr    string
	timeout time.Duration
	gap     time.Duration // trickleGap(timeout)

	// The minimum transfer rate (see Conn). waited is the time spent in
	// reads of the current transfer, got the bytes it brought: the raw
	// bytes until TLS is up (plaintextAbove false), then the protocol
	// bytes, which Conn.Read reports through received. slow, once set,
	// fails every later read.
	rateMu  sync.Mutex
	rateOff bool
	// now is the clock of the rate's waiting; nil is time.Now. Tests
	// replace it so that the rule is checked without racing the
	// scheduler.
	now            func() time.Time
	waited         time.Duration
	got            int64
	slow           error
	plaintextAbove atomic.Bool

	mu sync.Mutex
	// cause is why the connection was aborted (a bound context's cause);
	// once set, every operation fails with it.
	cause error
	// readStopped and writeStopped are set while the caller's deadline for
	// that direction has passed (SetDeadline with a past time).
	readStopped, writeStopped bool
	closed                    bool
}

// arm sets the deadline of the next read (or write) to now + IO timeout,
// unless the connection was stopped. Holding mu while setting it keeps a
// concurrent abort from being overwritten by a fresh deadline.
func (d *deadlineConn) arm(read bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cause != nil {
		return d.abortedError(read)
	}
	if (read && d.readStopped) || (!read && d.writeStopped) {
		return d.stoppedError(read, os.ErrDeadlineExceeded)
	}
	timeout := d.timeout
	if d.closed && timeout > closeGrace {
		timeout = closeGrace
	}
	deadline := time.Now().Add(timeout)
	if read {
		return d.Conn.SetReadDeadline(deadline)
	}
	return d.Conn.SetWriteDeadline(deadline)
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if err := d.slowError(); err != nil {
		return 0, err
	}
	if err := d.arm(true); err != nil {
		return 0, err
	}
	start := d.clock()
	n, err := d.Conn.Read(p)
	if err != nil {
		return n, d.explain(true, err)
	}
	if serr := d.waitedFor(d.clock().Sub(start), n); serr != nil {
		return n, serr
	}
	return n, nil
}

func (d *deadlineConn) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// waitedFor counts a read that took waited and brought n raw bytes, and
// returns the error of a transfer too slow to go on.
func (d *deadlineConn) waitedFor(waited time.Duration, n int) error {
	d.rateMu.Lock()
	defer d.rateMu.Unlock()
	if d.rateOff {
		return nil
	}
	if waited >= d.gap {
		// Silence before these bytes: they start a transfer.
		d.waited, d.got = 0, 0
	} else {
		d.waited += waited
	}
	if !d.plaintextAbove.Load() {
		d.countLocked(n)
	}
	if d.waited >= d.timeout && d.got < MinTransfer {
		d.slow = failure.Wrap(failure.Temporary, &opError{
			msg: fmt.Sprintf("read from %s: timeout: the server sent only %d bytes in %v, less than %d KiB per timeout: the link is stuck",
				d.addr, d.got, d.waited.Round(time.Millisecond), MinTransfer>>10),
			err: ErrTooSlow})
		return d.slow
	}
	return nil
}

// received counts n protocol bytes that Conn.Read returned over TLS.
func (d *deadlineConn) received(n int) {
	d.rateMu.Lock()
	defer d.rateMu.Unlock()
	d.countLocked(n)
}

func (d *deadlineConn) countLocked(n int) {
	d.got += int64(n)
	if d.got >= MinTransfer {
		// Fast enough: the next window starts now.
		d.waited, d.got = 0, 0
	}
}

// sent starts a new transfer: the client wrote, so what the server sends
// next is a new reply, and the time before it is the server's to take.
func (d *deadlineConn) sent() {
	d.rateMu.Lock()
	defer d.rateMu.Unlock()
	d.waited, d.got = 0, 0
}

func (d *deadlineConn) slowError() error {
	d.rateMu.Lock()
	defer d.rateMu.Unlock()
	return d.slow
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		d.sent()
	}
	written := 0
	for written < len(p) {
		if err := d.arm(false); err != nil {
			return written, err
		}
		n, err := d.Conn.Write(p[written:min(len(p), written+writeChunk)])
		written += n
		if err != nil {
			return written, d.explain(false, err)
		}
	}
	return written, nil
}

// SetDeadline and its kin are what the TLS layer calls on the connection
// below it (around close_notify); they follow the caller semantics of Conn.
func (d *deadlineConn) SetDeadline(t time.Time) error {
	d.callerDeadline(true, true, t)
	return nil
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.callerDeadline(true, false, t)
	return nil
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.callerDeadline(false, true, t)
	return nil
}

// callerDeadline applies a deadline set from above: a time not after now
// stops the direction(s) at once, anything else lifts the stop.
func (d *deadlineConn) callerDeadline(read, write bool, t time.Time) {
	stop := !t.IsZero() && !t.After(time.Now())
	d.mu.Lock()
	defer d.mu.Unlock()
	if read {
		d.readStopped = stop
		if stop {
			d.Conn.SetReadDeadline(aLongTimeAgo)
		}
	}
	if write {
		d.writeStopped = stop
		if stop {
			d.Conn.SetWriteDeadline(aLongTimeAgo)
		}
	}
}

// abort fails pending and later I/O with cause.
func (d *deadlineConn) abort(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cause == nil {
		d.cause = cause
		d.Conn.SetDeadline(aLongTimeAgo)
	}
}

// closing shortens the deadline of the writes Close still makes. It reports
// whether the connection can still write (it was not aborted).
func (d *deadlineConn) closing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return d.cause == nil
}

// explain turns a deadline error into what caused it: a cancellation, a
// caller's deadline, or the server's silence for the IO timeout. Other
// errors (io.EOF above all) are returned as they are.
func (d *deadlineConn) explain(read bool, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.cause != nil:
		return d.abortedError(read)
	case read && d.readStopped, !read && d.writeStopped:
		return d.stoppedError(read, err)
	}
	var msg string
	if read {
		msg = fmt.Sprintf("read from %s: timeout: the server sent nothing for %v", d.addr, d.timeout)
	} else {
		msg = fmt.Sprintf("write to %s: timeout: the server accepted nothing for %v", d.addr, d.timeout)
	}
	return failure.Wrap(failure.Temporary, &opError{msg: msg, err: err})
}

func (d *deadlineConn) abortedError(read bool) error {
	return &opError{msg: fmt.Sprintf("%s %s: %v", direction(read), d.addr, d.cause), err: d.cause}
}

func (d *deadlineConn) stoppedError(read bool, err error) error {
	return failure.Wrap(failure.Temporary, &opError{
		msg: fmt.Sprintf("%s %s: interrupted: the caller's deadline passed", direction(read), d.addr), err: err})
}

func direction(read bool) string {
	if read {
		return "read from"
	}
	return "write to"
}

// ErrTooSlow is what a read that fails the minimum transfer rate wraps:
// the server kept sending, but less than MinTransfer bytes per IO timeout.
// It is a timeout: errors.Is(err, os.ErrDeadlineExceeded) holds too.
var ErrTooSlow = fmt.Errorf("transfer too slow: %w", os.ErrDeadlineExceeded)

// opError gives a network error a message a user can act on, while
// errors.Is and errors.As still see the cause (os.ErrDeadlineExceeded,
// *net.OpError, a context's cause).
type opError struct {
	msg string
	err error
}

func (e *opError) Error() string { return e.msg }
func (e *opError) Unwrap() error { return e.err }
