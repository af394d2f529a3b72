package sync

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// session is one authenticated IMAP connection.
type session struct {
	conn *transport.Conn
	wire *wire // between conn and c: see wire.go
	c    *imapclient.Client
	caps imap.CapSet
	addr string
	// utf8: UTF8=ACCEPT is enabled (RFC 6855): the server sends messages
	// with UTF-8 headers as they are, and mailbox names in UTF-8.
	utf8 bool

	// expunges counts the EXPUNGE responses no command claimed: sequence
	// numbers taken before one are no longer valid (see fetchBySeq).
	expunges atomic.Int64
	// seqEpoch is expunges when the sequence numbers of newMsg were read.
	seqEpoch int64

	// orphanBodies counts FETCH responses carrying a message body that the
	// client could not give to the command that asked for it: go-imap
	// routes a FETCH by the UID it has seen before the first literal, so a
	// server that sends BODY[] before UID (or no UID) makes the message
	// vanish into the unilateral handler while the command succeeds.
	orphanBodies atomic.Int64
	// literalBroken: a body literal failed mid-read (see literalGuard).
	literalBroken atomic.Bool
	// broken is set once the connection can no longer be trusted (aborted
	// mid-command, or a network error): the worker dials again.
	broken atomic.Bool
}

// port returns the port to dial: the given one or IMAP's default for the
// TLS mode.
func (o *Options) port() int {
	if o.Port != 0 {
		return o.Port
	}
	return transport.DefaultPort("imap", o.Security.Mode)
}

// dial connects, secures (implicit TLS or required STARTTLS), and logs in.
// Errors are classified: network failures failure.Temporary, a refused
// login failure.Auth, a missing STARTTLS or mechanism failure.Other or
// Usage.
func dial(ctx context.Context, opt *Options) (*session, error) {
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
	s := &session{conn: conn, addr: addr}
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
	s.wire = newWire(nc, addr)
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
		s.close()
		return nil, s.greetingError(err)
	}
	if err := s.login(ctx, opt); err != nil {
		s.close()
		return nil, err
	}
	s.caps = s.c.Caps()
	if s.caps == nil {
		s.close()
		return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: no CAPABILITY answer after login", addr))
	}
	if err := s.enableUTF8(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// plainInsteadOfTLS recognises, in a failed TLS handshake, a POP3 or SMTP
// server that greeted in plain text: the port is wrong, not the TLS mode
// (failure.Protocol). nil for anything else.
func plainInsteadOfTLS(err error, addr string) error {
	var rec tls.RecordHeaderError
	if !errors.As(err, &rec) {
		return nil
	}
	head := string(rec.RecordHeader[:])
	if strings.HasPrefix(head, "+OK") || strings.HasPrefix(head, "-ERR") || strings.HasPrefix(head, "220") {
		return wrongProtocol(head, addr)
	}
	return nil
}

// greetingError classifies a greeting that failed: another protocol on
// the port, a greeting that does not parse (failure.Protocol), a BYE (the
// server refuses connections for now: Temporary), or a connection that
// broke (Temporary).
func (s *session) greetingError(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		// * BYE: too many connections, shutting down, as with STARTTLS.
		return failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: the server refused the connection: %s", s.addr, ie.Text))
	}
	return s.classify(fmt.Errorf("imap: %s: greeting: %w", s.addr, err))
}

// enableUTF8 enables UTF8=ACCEPT (RFC 6855) where the server offers it:
// without it a server may give a message whose header holds raw UTF-8 to
// the client in a downgraded form (Courier replaces it by a stub). With
// it, mailbox names are UTF-8 on the wire both ways; the wire makes them
// what go-imap reads and writes (its '&' handling). A refused ENABLE is
// not an error: the session goes on without.
func (s *session) enableUTF8() error {
	quotedUTF8 := s.caps.Has(imap.CapIMAP4rev2) // go-imap then writes names in UTF-8
	if s.caps.Has(imap.CapUTF8Accept) {
		data, err := s.c.Enable(imap.CapUTF8Accept).Wait()
		var ie *imap.Error
		switch {
		case err == nil:
			s.utf8 = data.Caps.Has(imap.CapUTF8Accept)
		case !errors.As(err, &ie):
			return s.fail(fmt.Errorf("imap: %s: ENABLE UTF8=ACCEPT: %w", s.addr, err))
		}
	}
	s.wire.utf8.Store(s.utf8)
	switch {
	case s.utf8:
		s.wire.setOutMode(outUTF8)
	case quotedUTF8:
		s.wire.setOutMode(outMUTF7)
	}
	return nil
}

// unilateralFetch runs on go-imap's reader goroutine for FETCH data no
// command claimed. Flag updates from other sessions are normal and
// dropped; a body is counted (see orphanBodies) and drained, since the
// reader waits for it to be consumed.
func (s *session) unilateralFetch(msg *imapclient.FetchMessageData) {
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

// greetedConn hands go-imap a greeting before the bytes of the
// connection. After a STARTTLS done by hand the server sends no new
// greeting, but imapclient.New waits for one.
type greetedConn struct {
	*transport.Conn
	pre []byte
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if len(g.pre) > 0 {
		n := copy(p, g.pre)
		g.pre = g.pre[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}

// startTLS reads the plain-text greeting, checks that STARTTLS is offered,
// upgrades the connection in place and returns it with a synthetic
// greeting for imapclient. It is done here rather than with
// imapclient.NewStartTLS so that TLS sits below the transport's trace and
// deadlines. No fallback: a server without STARTTLS is an error (DESIGN
// invariant 6).
func startTLS(ctx context.Context, conn *transport.Conn, opt *Options) (net.Conn, error) {
	line, err := readLine(conn)
	if err != nil {
		return nil, classify(fmt.Errorf("greeting: %w", err))
	}
	if err := checkGreeting(line, net.JoinHostPort(opt.Host, strconv.Itoa(opt.port()))); err != nil {
		return nil, err
	}
	switch up := strings.ToUpper(line); {
	case strings.HasPrefix(up, "* PREAUTH"):
		// RFC 9051 7.1.4: already authenticated in plain text, so STARTTLS
		// is impossible; refuse rather than talk unprotected.
		return nil, failure.New(failure.Other, "server sent PREAUTH on a connection without TLS: refusing to continue")
	case strings.HasPrefix(up, "* BYE"):
		return nil, failure.New(failure.Temporary, "server refused the connection: "+truncate(line, 200))
	}
	lines, err := plainCommand(conn, "S1", "CAPABILITY")
	if err != nil {
		return nil, err
	}
	offered := false
	for _, l := range lines {
		for _, tok := range strings.Fields(strings.ToUpper(l)) {
			if tok == "STARTTLS" {
				offered = true
			}
		}
	}
	if !offered {
		return nil, failure.New(failure.Other, "the server does not offer STARTTLS: refusing to continue without TLS (use --tls implicit, or --tls none with --allow-plaintext)")
	}
	if _, err := plainCommand(conn, "S2", "STARTTLS"); err != nil {
		return nil, err
	}
	cfg, err := opt.Security.TLSConfig(opt.Host)
	if err != nil {
		return nil, err
	}
	if err := conn.StartTLS(ctx, cfg); err != nil {
		return nil, err
	}
	return &greetedConn{Conn: conn, pre: []byte("* OK [mailfetch] TLS is up\r\n")}, nil
}

// plainCommand sends one command before TLS and reads up to its tagged
// reply, returning the untagged lines. Bytes are read one at a time so
// that nothing after the reply (the server's TLS handshake) is consumed.
func plainCommand(conn net.Conn, tag, cmd string) ([]string, error) {
	if _, err := io.WriteString(conn, tag+" "+cmd+"\r\n"); err != nil {
		return nil, classify(fmt.Errorf("%s: %w", cmd, err))
	}
	var untagged []string
	for {
		line, err := readLine(conn)
		if err != nil {
			return nil, classify(fmt.Errorf("%s: %w", cmd, err))
		}
		if strings.HasPrefix(line, "* ") {
			untagged = append(untagged, line)
			continue
		}
		rest, ok := strings.CutPrefix(line, tag+" ")
		if !ok {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(rest), "OK") {
			return untagged, nil
		}
		return nil, failure.New(failure.Other, fmt.Sprintf("%s refused: %s", cmd, truncate(rest, 200)))
	}
}

// maxPlainLine bounds a line read before TLS.
const maxPlainLine = 64 << 10

func readLine(r io.Reader) (string, error) {
	var b []byte
	var one [1]byte
	for len(b) < maxPlainLine {
		if _, err := io.ReadFull(r, one[:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if one[0] == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, one[0])
	}
	return "", errors.New("line too long")
}

// login authenticates as opt.Auth says, after checking that the server
// offers the mechanism (go-imap never checks) and that the connection may
// carry the credentials.
func (s *session) login(ctx context.Context, opt *Options) error {
	if s.c.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH over implicit TLS
	}
	caps := s.c.Caps()
	if caps == nil {
		return failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: no CAPABILITY answer", s.addr))
	}
	_, encrypted := s.conn.TLSConnectionState()
	mech := strings.ToLower(strings.TrimSpace(opt.Auth))
	if mech == "" || mech == "auto" {
		switch {
		case caps.Has(imap.AuthCap(transport.MechPlain)):
			mech = "plain"
		case !caps.Has(imap.CapLoginDisabled):
			mech = "login"
		default:
			return failure.New(failure.Auth, fmt.Sprintf("imap: %s: the server offers neither AUTH=PLAIN nor LOGIN (offered: %s)", s.addr, authCaps(caps)))
		}
	}
	var wire string
	switch mech {
	case "login":
		wire = "LOGIN"
	case "plain", "cram-md5", "xoauth2", "oauthbearer":
		wire = strings.ToUpper(mech)
	default:
		return failure.New(failure.Usage, fmt.Sprintf("imap: unknown auth %q: want auto, login, plain, cram-md5, xoauth2 or oauthbearer", opt.Auth))
	}
	if err := opt.Security.CheckAuth(wire, encrypted); err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	var err error
	if mech == "login" {
		if caps.Has(imap.CapLoginDisabled) {
			return failure.New(failure.Auth, fmt.Sprintf("imap: %s: LOGIN is disabled on this server (offered: %s)", s.addr, authCaps(caps)))
		}
		err = s.c.Login(opt.User, opt.Secret).Wait()
	} else {
		if !caps.Has(imap.AuthCap(wire)) {
			return failure.New(failure.Auth, fmt.Sprintf("imap: %s: the server does not offer AUTH=%s (offered: %s)", s.addr, wire, authCaps(caps)))
		}
		client, serr := transport.SASL(wire, opt.User, opt.Secret)
		if serr != nil {
			return serr
		}
		err = s.c.Authenticate(client)
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			kind := failure.Auth
			switch ie.Code {
			case imap.ResponseCodeUnavailable, imap.ResponseCodeInUse, imap.ResponseCodeLimit:
				kind = failure.Temporary
			}
			return failure.Wrap(kind, fmt.Errorf("imap: %s: login as %s refused: %s", s.addr, opt.User, ie.Text))
		}
		return s.classify(fmt.Errorf("imap: %s: login as %s: %w", s.addr, opt.User, err))
	}
	return nil
}

// authCaps lists the AUTH= capabilities, for error messages.
func authCaps(caps imap.CapSet) string {
	var out []string
	for c := range caps {
		if strings.HasPrefix(string(c), "AUTH=") || c == imap.CapLoginDisabled {
			out = append(out, string(c))
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, " ")
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

// abort ends the connection at once, without draining a command: used when
// a command must stop mid-stream (a local error during a FETCH), where
// draining would download the rest for nothing and Close would hang on an
// unread body (LIBRARIES.md). The session is unusable afterwards.
func (s *session) abort() {
	s.broken.Store(true)
	s.wire.closing()
	s.conn.Close()
}

// drain ends a FETCH after abort. Normally that is cmd.Close, which reads
// and drops what is left. But once a literal failed mid-read, go-imap's
// reader goroutine owns the stream again while Close would read the
// literal once more to discard it: a data race on the connection's
// buffer. Then the command is left alone: the connection is closed, so
// the reader fails, ends, and completes the command itself.
func (s *session) drain(cmd *imapclient.FetchCommand) {
	if !s.literalBroken.Load() {
		cmd.Close()
		return
	}
	select {
	case <-s.c.Closed():
	case <-time.After(closeWait):
	}
}

// alive reports whether the session can still be used: not broken, and
// go-imap's reader still running (an idle connection that outlived the
// server's or the transport's timeout is closed without any command
// failing).
func (s *session) alive() bool {
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

// keepAlive sends a NOOP every interval until stop is called: local work
// that takes long while no command is out (reading every file of a large
// folder to rebuild its state) must not let the connection time out, as
// each read of the transport has the IO timeout.
func (s *session) keepAlive(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg gosync.WaitGroup
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
				if !s.alive() {
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

// close logs out politely when the connection is healthy, then closes.
func (s *session) close() {
	if s.c == nil {
		s.conn.Close()
		return
	}
	if !s.broken.Load() && s.c.State() != imap.ConnStateLogout {
		_ = s.c.Logout().Wait()
	}
	s.wire.closing()
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
func (s *session) fail(err error) error {
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
func (s *session) classify(err error) error {
	var ie *imap.Error
	if err == nil || errors.As(err, &ie) || failure.KindOf(err) != failure.Other {
		return classify(err)
	}
	if perr := s.wire.protocolError(err); perr != nil {
		return perr
	}
	return classify(err)
}
