package imapconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn/wire"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// Options says how to reach and log in to an account.
type Options struct {
	Host     string
	Port     int // 0: 993 with implicit TLS, 143 otherwise
	Security transport.Security
	Timeouts transport.Timeouts
	User     string
	Secret   string    // password or OAuth2 token, already resolved
	Auth     string    // auto|login|plain|cram-md5|xoauth2|oauthbearer
	Trace    io.Writer // protocol transcript (credentials redacted); nil: off
	// Notice, when set, is told what a connection learnt of the server
	// that the user should know (a quirk it works around), with the
	// selected folder's name.
	Notice func(folder, text string)
}

// port returns the port to dial: the given one or IMAP's default for the
// TLS mode.
func (o *Options) port() int {
	if o.Port != 0 {
		return o.Port
	}
	return transport.DefaultPort("imap", o.Security.Mode)
}

// A Dialer opens the connections of one account (of one run). What one
// of its connections learns of the server's quirks, its later
// connections know from the start: a server that sends BODY[] before UID
// is asked by sequence number at once.
type Dialer struct {
	opt Options
	// bodyFirst: the server sent BODY[] before UID (see fetchLiterals).
	bodyFirst atomic.Bool
}

// NewDialer returns a Dialer for the account opt describes.
func NewDialer(opt Options) *Dialer {
	return &Dialer{opt: opt}
}

// Session is one authenticated IMAP connection: it implements Conn. One
// goroutine at a time may use it (KeepAlive's NOOPs run beside).
type Session struct {
	d    *Dialer
	conn *transport.Conn
	wire *wire.Filter // between conn and c
	c    *imapclient.Client
	caps imap.CapSet
	addr string
	// utf8: UTF8=ACCEPT is enabled (RFC 6855): the server sends messages
	// with UTF-8 headers as they are, and mailbox names in UTF-8.
	utf8 bool

	// expunges counts the EXPUNGE responses no command claimed: sequence
	// numbers taken before one are no longer valid (see seqNumbers).
	expunges atomic.Int64
	// orphanBodies counts FETCH responses carrying a message body that the
	// client could not give to the command that asked for it: go-imap
	// routes a FETCH by the UID it has seen before the first literal, so a
	// server that sends BODY[] before UID (or no UID) makes the message
	// vanish into the unilateral handler while the command succeeds.
	orphanBodies atomic.Int64
	// literalBroken: a body literal failed mid-read (see literalGuard).
	literalBroken atomic.Bool
	// broken is set once the connection can no longer be trusted (aborted
	// mid-command, or a network error): the caller dials again.
	broken atomic.Bool

	// The selected folder.
	mailbox string
	sel     *Selected
	// search is the UID SEARCH ALL sent with the SELECT, until read.
	search *imapclient.SearchCommand
	// uids is the last SearchAll's answer: sets of UIDs span what the
	// folder does not hold (uidSetAcross).
	uids []UID
	// seqs are the sequence numbers FetchMeta saw, valid while expunges
	// is still seqEpoch.
	seqs     map[UID]uint32
	seqEpoch int64
}

// Dial connects, secures (implicit TLS or required STARTTLS), logs in and
// enables UTF8=ACCEPT where offered. Errors are classified: network
// failures failure.Temporary, a refused login failure.Auth, a missing
// STARTTLS or mechanism failure.Other or Usage, another protocol on the
// port failure.Protocol.
func (d *Dialer) Dial(ctx context.Context) (*Session, error) {
	opt := &d.opt
	addr := net.JoinHostPort(opt.Host, strconv.Itoa(opt.port()))
	conn, err := transport.Dial(ctx, addr, opt.Security, opt.Timeouts)
	if err != nil {
		if perr := plainInsteadOfTLS(err, addr); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("imap: %w", err)
	}
	if opt.Trace != nil {
		conn.SetTrace(transport.NewTrace(opt.Trace, "imap"))
	}
	s := &Session{d: d, conn: conn, addr: addr}
	var nc net.Conn = conn
	if opt.Security.Mode == transport.TLSStartTLS {
		greeted, err := startTLS(ctx, conn, opt)
		if err != nil {
			conn.Close()
			if failure.KindOf(err) == failure.Protocol {
				return nil, err
			}
			return nil, fmt.Errorf("imap: %s: %w", addr, err)
		}
		nc = greeted
	}
	s.wire = wire.New(nc, addr)
	s.c = imapclient.New(s.wire, &imapclient.Options{
		// Subjects in other charsets than UTF-8 and ASCII stay encoded
		// without it (LIBRARIES.md).
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Fetch: s.unilateralFetch,
			// Runs on go-imap's reader goroutine: only counts.
			Expunge: func(uint32) { s.expunges.Add(1) },
		},
		// No DebugWriter: it logs credentials verbatim. The transport's
		// trace redacts them.
	})
	if err := s.c.WaitGreeting(); err != nil {
		s.Close() // first: go-imap's own close, if any, is then known
		return nil, s.greetingError(err)
	}
	if err := s.start(ctx, opt); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start logs in and enables UTF-8.
func (s *Session) start(ctx context.Context, opt *Options) error {
	if err := s.login(ctx, opt); err != nil {
		return err
	}
	s.caps = s.c.Caps()
	if s.caps == nil {
		return failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: no CAPABILITY answer after login", s.addr))
	}
	return s.enableUTF8()
}

// Caps implements Conn.
func (s *Session) Caps() Caps {
	c := Caps{CondStore: s.caps.Has(imap.CapCondStore), UIDPlus: s.caps.Has(imap.CapUIDPlus)}
	for name := range s.caps {
		c.Names = append(c.Names, string(name))
	}
	slices.Sort(c.Names)
	return c
}

// unilateralFetch runs on go-imap's reader goroutine for FETCH data no
// command claimed. Flag updates from other sessions are normal and
// dropped; a body is counted (see orphanBodies) and drained, since the
// reader waits for it to be consumed.
func (s *Session) unilateralFetch(msg *imapclient.FetchMessageData) {
	for item := msg.Next(); item != nil; item = msg.Next() {
		if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
			s.orphanBodies.Add(1)
			if _, err := io.Copy(io.Discard, b.Literal); err != nil {
				// The stream is back with go-imap's reader: the next
				// Next would read this literal again (see drain).
				s.literalBroken.Store(true)
				return
			}
		}
	}
}

// begin starts a round trip on the selected folder: nothing once ctx is
// done, and the UID SEARCH sent with the SELECT, if still unread, is read
// and dropped (its answer is no longer the latest).
func (s *Session) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.search != nil {
		_, _ = s.search.Wait()
		s.search = nil
	}
	return nil
}

// notice tells Options.Notice what the connection learnt.
func (s *Session) notice(text string) {
	if s.d.opt.Notice != nil {
		s.d.opt.Notice(s.mailbox, text)
	}
}

// Abort implements Conn: it ends the connection at once, without
// draining a command; used when a command must stop mid-stream (a local
// error during a FETCH), where draining would download the rest for
// nothing and Close would hang on an unread body (LIBRARIES.md). The
// session is unusable afterwards.
func (s *Session) Abort() {
	s.broken.Store(true)
	s.wire.Closing()
	s.conn.Close()
}

// drain ends a FETCH after Abort. Normally that is cmd.Close, which reads
// and drops what is left. But once a literal failed mid-read, go-imap's
// reader goroutine owns the stream again while Close would read the
// literal once more to discard it: a data race on the connection's
// buffer. Then the command is left alone: the connection is closed, so
// the reader fails, ends, and completes the command itself.
func (s *Session) drain(cmd *imapclient.FetchCommand) {
	if !s.literalBroken.Load() {
		cmd.Close()
		return
	}
	select {
	case <-s.c.Closed():
	case <-time.After(closeWait):
	}
}

// Alive implements Conn: not broken, and go-imap's reader still running
// (an idle connection that outlived the server's or the transport's
// timeout is closed without any command failing).
func (s *Session) Alive() bool {
	if s.broken.Load() {
		return false
	}
	select {
	case <-s.c.Closed():
		s.broken.Store(true)
		return false
	default:
		return true
	}
}

// KeepAlive implements Conn: a NOOP every third of the IO timeout.
func (s *Session) KeepAlive() (stop func()) {
	interval := s.d.opt.Timeouts.IO
	if interval <= 0 {
		interval = transport.DefaultIOTimeout
	}
	interval = max(interval/3, time.Second)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if !s.Alive() {
					return
				}
				_ = s.c.Noop().Wait()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// Close implements Conn.
func (s *Session) Close() {
	if s.c == nil {
		s.conn.Close()
		return
	}
	if !s.broken.Load() && s.c.State() != imap.ConnStateLogout {
		_ = s.c.Logout().Wait()
	}
	s.wire.Closing()
	s.conn.Close()
	// Client.Close waits for go-imap's reader, which can be stuck handing
	// an unread body to a command nobody drains any more: never let that
	// hold up the run.
	done := make(chan struct{})
	go func() {
		_ = s.c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
}

// closeWait bounds the wait for go-imap's reader to end after the
// connection was closed.
const closeWait = 5 * time.Second

// fail marks the session broken when err comes from the connection rather
// than from a server's answer, and returns err classified.
func (s *Session) fail(err error) error {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		s.broken.Store(true)
	}
	return s.classify(err)
}

// classify is the package's classify, knowing how this connection ended:
// an error of go-imap after it closed the connection on its own (a
// response it could not parse) or after a greeting of another protocol is
// failure.Protocol; a connection that was cut stays Temporary.
func (s *Session) classify(err error) error {
	var ie *imap.Error
	if err == nil || errors.As(err, &ie) || failure.KindOf(err) != failure.Other {
		return classify(err)
	}
	if perr := s.wire.ProtocolError(err); perr != nil {
		return perr
	}
	return classify(err)
}

// classify gives an error from the connection its kind: a server's NO or
// BAD is failure.Other unless marked otherwise; anything else that is not
// classified yet (EOF, a protocol error after a cut) is failure.Temporary,
// since a connection that broke may work next time.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Code {
		case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse, imap.ResponseCodeLimit, imap.ResponseCodeServerBug:
			return failure.Wrap(failure.Temporary, err)
		}
		return failure.Wrap(failure.KindOf(err), err)
	}
	if k := failure.KindOf(err); k != failure.Other {
		return failure.Wrap(k, err)
	}
	return failure.Wrap(failure.Temporary, err)
}
