package pop3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// Defaults for Options. RFC 1939 limits a response line to 512 octets; real
// servers exceed it (long greetings, IMPLEMENTATION strings), hence 8 KiB.
// Message lines are bounded by RFC 5322 at 998 octets, and broken mail
// exceeds that by far (unwrapped HTML, base64 without line breaks), hence a
// generous 1 MiB: enough for real mail, and still a bound.
const (
	DefaultMaxLine        = 8 << 10
	DefaultMaxMessageLine = 1 << 20
	DefaultMaxListing     = 64 << 20
)

const (
	readBufferSize  = 64 << 10
	writeBufferSize = 4 << 10
)

// Options bound what the Client accepts from the server. Zero values take the
// defaults.
type Options struct {
	// MaxLine bounds a status line and a line of a LIST, UIDL or CAPA
	// reply, line ending included. Default DefaultMaxLine.
	MaxLine int
	// MaxMessageLine bounds a line of a RETR or TOP body, line ending
	// included. Default DefaultMaxMessageLine. The body streams through a
	// fixed buffer whatever this is; the bound only turns a server that
	// sends endless bytes without a line break into an error.
	MaxMessageLine int
	// MaxListing bounds the total size of a LIST, UIDL or CAPA reply.
	// Default DefaultMaxListing (about 700,000 UIDL lines).
	MaxListing int64
}

func (o Options) withDefaults() Options {
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxMessageLine <= 0 {
		o.MaxMessageLine = DefaultMaxMessageLine
	}
	if o.MaxListing <= 0 {
		o.MaxListing = DefaultMaxListing
	}
	return o
}

// Client is a POP3 session. It is not safe for concurrent use.
type Client struct {
	conn  net.Conn
	guard guardedConn
	lr    lineReader
	out   *bufio.Writer
	opt   Options

	timestamp string // APOP timestamp from the greeting, "" if none

	caps      Capabilities
	capsKnown bool // caps are from a CAPA in the current state
	// authCaps are the capabilities known before a login, kept after it:
	// RFC 2449 §5 has every capability of the AUTHORIZATION state
	// announced in the TRANSACTION state too.
	authCaps Capabilities

	body   *dotReader // an open RETR/TOP body; no command until it is done
	broken error      // set when the session is out of step: no more commands

	// utf8Queued: EnableUTF8 was called and the UTF8 command goes out
	// with the next command. utf8On and utf8Err are its outcome.
	utf8Queued bool
	utf8On     bool
	utf8Err    error

	stopWatch func() bool // disarms the current call's context; nil between calls
}

// guardedConn checks the current call's context before each Read and Write,
// so a cancelled call does no more I/O even on a connection that re-arms its
// own deadlines (transport.Conn does).
type guardedConn struct {
	conn net.Conn
	ctx  context.Context
}

func (g *guardedConn) Read(p []byte) (int, error) {
	if err := g.ctx.Err(); err != nil {
		return 0, err
	}
	return g.conn.Read(p)
}

func (g *guardedConn) Write(p []byte) (int, error) {
	if err := g.ctx.Err(); err != nil {
		return 0, err
	}
	return g.conn.Write(p)
}

// NewClient starts a session on conn: it reads the server's greeting and
// keeps its APOP timestamp. The greeting read is bounded by conn's own
// deadlines (transport.Conn arms them). On error the caller still owns conn
// and must close it. A -ERR greeting is an *Error with Command "greeting",
// classified failure.Temporary unless its code is SYS/PERM: servers refuse
// connections when busy (RFC 1939 §4 allows it). Any other greeting that
// is not +OK is failure.Protocol, with a message that says what answered
// ("port 993 answered like an IMAP server") and where POP3 usually is.
func NewClient(conn net.Conn, opt Options) (*Client, error) {
	c := &Client{conn: conn, opt: opt.withDefaults()}
	c.guard = guardedConn{conn: conn, ctx: context.Background()}
	c.lr = lineReader{br: bufio.NewReaderSize(&c.guard, readBufferSize), max: c.opt.MaxLine}
	c.out = bufio.NewWriterSize(&c.guard, writeBufferSize)
	const shown = "greeting"
	line, err := c.lr.readLine()
	if err != nil {
		return nil, c.fail(shown, err)
	}
	st, err := parseStatus(line)
	if err != nil {
		// Not a POP3 server: the wrong port (IMAP's, SMTP's) or the
		// wrong service. A later run meets the same; a human must act.
		return nil, failure.Wrap(failure.Protocol, notPOP3(conn.RemoteAddr(), line))
	}
	if !st.ok {
		e := &Error{Command: shown, Code: st.code, Text: sanitize(st.text)}
		if hasCode(e.Code, "SYS/PERM") {
			return nil, e
		}
		return nil, failure.Wrap(failure.Temporary, e)
	}
	c.timestamp = apopTimestamp(st.text)
	return c, nil
}

// notPOP3 describes a greeting that is no POP3 status line: another
// protocol's (IMAP "* OK", SMTP "220 ", SSH "SSH-") or anything else.
func notPOP3(addr net.Addr, line []byte) error {
	where := "the server"
	if addr != nil {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			where = "port " + port
		}
	}
	s := string(line)
	var like string
	switch {
	case strings.HasPrefix(s, "* OK") || strings.HasPrefix(s, "* PREAUTH") || strings.HasPrefix(s, "* BYE"):
		like = "an IMAP server"
	case len(s) >= 4 && (s[0] >= '2' && s[0] <= '5') && isDigit(s[1]) && isDigit(s[2]) && (s[3] == ' ' || s[3] == '-'):
		like = "an SMTP server"
	case strings.HasPrefix(s, "SSH-"):
		like = "an SSH server"
	}
	const hint = "POP3 is port 995 (implicit TLS) or 110 (plain or STARTTLS)"
	if like != "" {
		return fmt.Errorf("pop3: %s answered like %s, not POP3 (greeting %s); %s", where, like, quote(line), hint)
	}
	return fmt.Errorf("pop3: %s did not answer like a POP3 server: its greeting %s is not +OK; %s", where, quote(line), hint)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// apopTimestamp finds the RFC 1939 §7 timestamp in a greeting: the first
// "<...>" whose content is printable ASCII and contains an '@', as a msg-id
// must.
func apopTimestamp(text string) string {
	i := strings.IndexByte(text, '<')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(text[i:], '>')
	if j < 0 {
		return ""
	}
	ts := text[i : i+j+1]
	for k := 0; k < len(ts); k++ {
		if c := ts[k]; c < 0x21 || c > 0x7e {
			return ""
		}
	}
	if !strings.Contains(ts, "@") {
		return ""
	}
	return ts
}

// CanAPOP reports whether the greeting carried the timestamp APOP needs.
func (c *Client) CanAPOP() bool { return c.timestamp != "" }

// pastDeadline unblocks any I/O on a connection at once.
var pastDeadline = time.Unix(1, 0)

// begin starts a call: it refuses when the session cannot take a command and
// arms ctx to interrupt the connection's I/O. Every begin is paired with end,
// directly or, for a body, when the body is finished.
func (c *Client) begin(ctx context.Context, shown string) error {
	if c.broken != nil {
		return fmt.Errorf("pop3: %s: session unusable after an earlier error (%w)", shown, c.broken)
	}
	if c.body != nil {
		return fmt.Errorf("pop3: %s: a message body is still open: read it to the end or Close it first", shown)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pop3: %s: %w", shown, err)
	}
	c.guard.ctx = ctx
	conn := c.conn
	c.stopWatch = context.AfterFunc(ctx, func() { conn.SetDeadline(pastDeadline) })
	return nil
}

// end finishes a call. If ctx fired in the meantime the connection's deadline
// is poisoned, and the session with it.
func (c *Client) end() {
	if c.stopWatch == nil {
		return
	}
	if !c.stopWatch() && c.broken == nil {
		c.broken = fmt.Errorf("call cancelled: %w", c.guard.ctx.Err())
	}
	c.stopWatch = nil
	c.guard.ctx = context.Background()
}

// fail records err as the end of the session and names the command in it.
// A cancelled context is reported as such rather than as the timeout it
// caused; a connection closed by the server is failure.Temporary, a reply
// that breaks the protocol failure.Protocol.
func (c *Client) fail(shown string, err error) error {
	if ctxErr := c.guard.ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	var pe *protoError
	switch {
	case errors.As(err, &pe):
		err = failure.Wrap(failure.Protocol, fmt.Errorf("pop3: %s: %w", shown, err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = transport.Classify(fmt.Errorf("pop3: %s: connection closed by the server: %w", shown, io.ErrUnexpectedEOF))
	default:
		err = transport.Classify(fmt.Errorf("pop3: %s: %w", shown, err))
	}
	c.broken = err
	return err
}

// cutShort marks a body that ended early for a reason other than a protocol
// violation (a reset, a timeout, a cancelled context): whatever the cause,
// it matches io.ErrUnexpectedEOF, so callers test for an incomplete message
// in one way.
type cutShort struct{ err error }

func (e *cutShort) Error() string        { return e.err.Error() }
func (e *cutShort) Unwrap() error        { return e.err }
func (e *cutShort) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// send writes command lines and flushes them. A UTF8 command queued by
// EnableUTF8 goes first: in the same write when the server advertised
// PIPELINING (its reply is read here, before the caller reads the reply
// to its own command), else alone, its reply read before the lines go.
func (c *Client) send(shown string, lines ...string) error {
	if !c.utf8Queued {
		return c.write(shown, lines...)
	}
	c.utf8Queued = false
	const utf8Cmd = "UTF8"
	if c.capsKnown && c.caps.Has(CapPipelining) {
		if err := c.write(shown, append([]string{utf8Cmd}, lines...)...); err != nil {
			return err
		}
		return c.readUTF8()
	}
	if err := c.write(utf8Cmd, utf8Cmd); err != nil {
		return err
	}
	if err := c.readUTF8(); err != nil {
		return err
	}
	return c.write(shown, lines...)
}

// write writes command lines and flushes them.
func (c *Client) write(shown string, lines ...string) error {
	for _, l := range lines {
		c.out.WriteString(l)
		c.out.WriteString("\r\n")
	}
	if err := c.out.Flush(); err != nil {
		return c.fail(shown, err)
	}
	return nil
}

// readUTF8 reads the reply to a UTF8 command. A -ERR is kept for
// UTF8Mode; the session goes on.
func (c *Client) readUTF8() error {
	st, err := c.readStatus("UTF8")
	if err != nil {
		return err
	}
	c.utf8On = st.ok
	if !st.ok {
		c.utf8Err = st.asError("UTF8")
	}
	return nil
}

// readStatus reads a +OK or -ERR line. Anything else puts the session out of
// step.
func (c *Client) readStatus(shown string) (status, error) {
	line, err := c.lr.readLine()
	if err != nil {
		return status{}, c.fail(shown, err)
	}
	st, err := parseStatus(line)
	if err != nil {
		return status{}, c.fail(shown, err)
	}
	return st, nil
}

// simple sends one command line and reads its status; a -ERR becomes an
// *Error for shown.
func (c *Client) simple(ctx context.Context, line, shown string) (string, error) {
	if err := c.begin(ctx, shown); err != nil {
		return "", err
	}
	defer c.end()
	if err := c.send(shown, line); err != nil {
		return "", err
	}
	st, err := c.readStatus(shown)
	if err != nil {
		return "", err
	}
	if !st.ok {
		return "", st.asError(shown)
	}
	return st.text, nil
}

// multiline sends a command whose +OK is followed by a multi-line listing
// and passes each line to add.
func (c *Client) multiline(ctx context.Context, line string, add func([]byte) error) error {
	shown := line
	if err := c.begin(ctx, shown); err != nil {
		return err
	}
	defer c.end()
	if err := c.send(shown, line); err != nil {
		return err
	}
	return c.readListing(shown, add)
}

// readListing reads the reply of a command whose +OK is followed by a
// multi-line listing. A -ERR is an *Error; a malformed line is an error
// that leaves the session in step (the listing was read to its end).
func (c *Client) readListing(shown string, add func([]byte) error) error {
	st, err := c.readStatus(shown)
	if err != nil {
		return err
	}
	if !st.ok {
		return st.asError(shown)
	}
	invalid, err := readMultiline(&c.lr, c.opt.MaxListing, add)
	if err != nil {
		return c.fail(shown, err)
	}
	if invalid != nil {
		return failure.Wrap(failure.Protocol, fmt.Errorf("pop3: %s: %w", shown, invalid))
	}
	return nil
}

// loggedIn notes a successful login: the capabilities are to be asked
// again (some are announced only after login), but those announced before
// it still hold (RFC 2449 §5), so pipelining can start without a CAPA.
func (c *Client) loggedIn() {
	c.authCaps = nil
	if c.capsKnown {
		c.authCaps = c.caps
	}
	c.capsKnown = false
}

// checkArg refuses an argument that would end the command line early or
// smuggle a second command into it.
func checkArg(shown, what, arg string) error {
	if strings.ContainsAny(arg, "\r\n\x00") {
		return fmt.Errorf("pop3: %s: %s contains CR, LF or NUL", shown, what)
	}
	return nil
}

func checkNum(shown string, n int) error {
	if n < 1 || n > 1<<31-1 {
		return fmt.Errorf("pop3: %s: message number %d out of range", shown, n)
	}
	return nil
}

// EnableUTF8 asks the server for UTF-8 mode (RFC 6856 §2): message
// headers as they are, raw UTF-8 included, where a server may otherwise
// serve a downgraded stand-in (Courier replaces such a message by a
// "Cannot display Unicode content" stub). Send it only when CAPA lists
// UTF8 (CapUTF8). The command is valid only in the AUTHORIZATION state:
// call EnableUTF8 before logging in, after STLS.
//
// It costs no round trip of its own: the UTF8 command goes out with the
// next command (normally USER, APOP or AUTH), in the same write when the
// server advertised PIPELINING, and its reply is read before that
// command's. A -ERR fails nothing: the session goes on without UTF-8 mode
// (UTF8Mode says so). With the argument USER (RFC 6856 §2) the server
// also takes UTF-8 user names and passwords once UTF8 was sent, which
// sending it before the login provides.
func (c *Client) EnableUTF8() {
	c.utf8Queued = true
}

// UTF8Mode reports the outcome of EnableUTF8 once the command was sent:
// on is true when the server accepted it; err is its -ERR reply (an
// *Error) when it refused.
func (c *Client) UTF8Mode() (on bool, err error) {
	return c.utf8On, c.utf8Err
}

// Capa asks for the server's capabilities (RFC 2449 §5). A server without
// CAPA answers -ERR: the returned *Error says so, and the Client then treats
// the server as having no capabilities. The Client keeps the reply to decide
// on pipelining; STLS and a successful login invalidate it, because
// capabilities may change with the state (RFC 2449 §5, RFC 2595 §4).
func (c *Client) Capa(ctx context.Context) (Capabilities, error) {
	var p capaParser
	err := c.multiline(ctx, "CAPA", p.add)
	var e *Error
	switch {
	case err == nil:
		if p.caps == nil {
			p.caps = Capabilities{}
		}
		c.caps, c.capsKnown = p.caps, true
		return maps.Clone(p.caps), nil
	case errors.As(err, &e):
		c.caps, c.capsKnown = nil, true
	}
	return nil, err
}

// User sends USER name (RFC 1939 §7). Follow it with Pass.
func (c *Client) User(ctx context.Context, name string) error {
	shown := "USER " + name
	if err := checkArg("USER", "user name", name); err != nil {
		return err
	}
	_, err := c.simple(ctx, shown, shown)
	return err
}

// Pass sends PASS secret after User. Errors show the command as "PASS",
// never the secret. A refusal is classified failure.Auth, or
// failure.Temporary for IN-USE, LOGIN-DELAY and SYS/TEMP.
func (c *Client) Pass(ctx context.Context, secret string) error {
	const shown = "PASS"
	if err := checkArg(shown, "password", secret); err != nil {
		return err
	}
	if _, err := c.simple(ctx, "PASS "+secret, shown); err != nil {
		return err
	}
	c.loggedIn()
	return nil
}

// Stat returns the number of messages and their total size (RFC 1939 §5).
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	const shown = "STAT"
	text, err := c.simple(ctx, shown, shown)
	if err != nil {
		return 0, 0, err
	}
	count, size, err = parseStat([]byte(text))
	if err != nil {
		return 0, 0, fmt.Errorf("pop3: %s: %w", shown, err)
	}
	return count, size, nil
}

// List returns the number and size of every message not marked deleted
// (RFC 1939 §5), in the server's order. The reply is bounded by
// Options.MaxListing; a malformed line or a number listed twice is an error.
func (c *Client) List(ctx context.Context) ([]MsgInfo, error) {
	var p listParser
	if err := c.multiline(ctx, "LIST", p.add); err != nil {
		return nil, err
	}
	return p.list, nil
}

// ListOne returns the size of message n.
func (c *Client) ListOne(ctx context.Context, n int) (MsgInfo, error) {
	shown := "LIST " + strconv.Itoa(n)
	if err := checkNum(shown, n); err != nil {
		return MsgInfo{}, err
	}
	text, err := c.simple(ctx, shown, shown)
	if err != nil {
		return MsgInfo{}, err
	}
	m, err := parseScanListing([]byte(text))
	if err == nil && m.Num != n {
		err = fmt.Errorf("reply is for message %d", m.Num)
	}
	if err != nil {
		return MsgInfo{}, fmt.Errorf("pop3: %s: %w", shown, err)
	}
	return m, nil
}

// UIDL returns the unique-id of every message not marked deleted (RFC 1939
// §7). Every UID is checked (1 to 70 characters in 0x21..0x7E), and a UID or
// number listed twice is an error: a fetcher must never act on an ambiguous
// identity.
func (c *Client) UIDL(ctx context.Context) ([]MsgUID, error) {
	var p uidlParser
	if err := c.multiline(ctx, "UIDL", p.add); err != nil {
		return nil, err
	}
	return p.list, nil
}

// UIDLOne returns the unique-id of message n.
func (c *Client) UIDLOne(ctx context.Context, n int) (MsgUID, error) {
	shown := "UIDL " + strconv.Itoa(n)
	if err := checkNum(shown, n); err != nil {
		return MsgUID{}, err
	}
	text, err := c.simple(ctx, shown, shown)
	if err != nil {
		return MsgUID{}, err
	}
	m, err := parseUIDListing([]byte(text))
	if err == nil && m.Num != n {
		err = fmt.Errorf("reply is for message %d", m.Num)
	}
	if err != nil {
		return MsgUID{}, fmt.Errorf("pop3: %s: %w", shown, err)
	}
	return m, nil
}

// Retr starts retrieving message n (RFC 1939 §5) and returns its body as a
// stream: byte-stuffing undone, CRLF turned into LF (the Maildir convention),
// bare CRs and all other bytes unchanged. The body ends with io.EOF at the
// terminating "." line; a connection that fails before it (closed, reset,
// timed out, cancelled) gives an error that matches io.ErrUnexpectedEOF
// with errors.Is, never a short message. The caller must read the body
// to the end or Close it before the next command; Close drains the rest.
// ctx governs the reads of the body too.
func (c *Client) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	shown := "RETR " + strconv.Itoa(n)
	if err := checkNum(shown, n); err != nil {
		return nil, err
	}
	return c.openBody(ctx, shown)
}

// Top returns the header of message n and the first lines of its body
// (RFC 1939 §7), as a stream like Retr's.
func (c *Client) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	shown := "TOP " + strconv.Itoa(n) + " " + strconv.Itoa(lines)
	if err := checkNum(shown, n); err != nil {
		return nil, err
	}
	if lines < 0 {
		return nil, fmt.Errorf("pop3: %s: negative line count", shown)
	}
	return c.openBody(ctx, shown)
}

func (c *Client) openBody(ctx context.Context, shown string) (io.ReadCloser, error) {
	if err := c.begin(ctx, shown); err != nil {
		return nil, err
	}
	if err := c.send(shown, shown); err != nil {
		c.end()
		return nil, err
	}
	st, err := c.readStatus(shown)
	if err != nil {
		c.end()
		return nil, err
	}
	if !st.ok {
		c.end()
		return nil, st.asError(shown)
	}
	return c.newBody(shown, true), nil
}

// newBody returns the reader of the multi-line body that follows a +OK to
// shown. While it is open no other command may start. When ownsCall is set,
// finishing the body also ends the call begun for it.
func (c *Client) newBody(shown string, ownsCall bool) *dotReader {
	d := newDotReader(c.lr.br, c.opt.MaxMessageLine, nil)
	d.onEnd = func(err error) error {
		c.body = nil
		if err != nil {
			var pe *protoError
			cut := !errors.As(err, &pe)
			err = c.fail(shown, err)
			if cut {
				err = &cutShort{err}
			}
		}
		if ownsCall {
			c.end()
		}
		return err
	}
	c.body = d
	return d
}

// Dele marks message n deleted (RFC 1939 §5). The server removes it only
// when the session ends with QUIT; a session that ends any other way deletes
// nothing.
func (c *Client) Dele(ctx context.Context, n int) error {
	shown := "DELE " + strconv.Itoa(n)
	if err := checkNum(shown, n); err != nil {
		return err
	}
	_, err := c.simple(ctx, shown, shown)
	return err
}

// Rset unmarks every message marked deleted in this session (RFC 1939 §5).
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.simple(ctx, "RSET", "RSET")
	return err
}

// Noop does nothing but ask the server for a +OK (RFC 1939 §5): a liveness
// check that also keeps an idle session from timing out.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.simple(ctx, "NOOP", "NOOP")
	return err
}

// Quit ends the session and closes the connection (RFC 1939 §6). Only now
// does the server commit the deletions marked by Dele: its +OK means they are
// done; a -ERR (an *Error) means some were not, and a connection lost before
// the reply leaves it unknown. The connection is closed in every case.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.simple(ctx, "QUIT", "QUIT")
	c.Close()
	return err
}

// Close closes the connection without QUIT: the server deletes nothing
// (RFC 1939 §6: messages marked deleted are not removed).
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = errors.New("session closed")
	}
	return c.conn.Close()
}
