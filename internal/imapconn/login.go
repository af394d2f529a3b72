package imapconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn/wire"
	"github.com/mailfetch/mailfetch/internal/transport"
)

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
		return wire.WrongProtocol(head, addr)
	}
	return nil
}

// greetingError classifies a greeting that failed: another protocol on
// the port, a greeting that does not parse (failure.Protocol), a BYE (the
// server refuses connections for now: Temporary), or a connection that
// broke (Temporary).
func (s *Session) greetingError(err error) error {
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
func (s *Session) enableUTF8() error {
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
	s.wire.SetUTF8(s.utf8)
	switch {
	case s.utf8:
		s.wire.SetOutMode(wire.OutUTF8)
	case quotedUTF8:
		s.wire.SetOutMode(wire.OutMUTF7)
	}
	return nil
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
	if err := wire.CheckGreeting(line, net.JoinHostPort(opt.Host, strconv.Itoa(opt.port()))); err != nil {
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

// mechanism returns the IMAP name of the mechanism opt.Auth asks for
// ("LOGIN" for the LOGIN command), choosing for "auto": AUTH=PLAIN when
// offered, else LOGIN unless it is disabled.
func (s *Session) mechanism(opt *Options, caps imap.CapSet) (string, error) {
	mech := strings.ToLower(strings.TrimSpace(opt.Auth))
	if mech == "" || mech == "auto" {
		switch {
		case caps.Has(imap.AuthCap(transport.MechPlain)):
			mech = "plain"
		case !caps.Has(imap.CapLoginDisabled):
			mech = "login"
		default:
			return "", failure.New(failure.Auth, fmt.Sprintf("imap: %s: the server offers neither AUTH=PLAIN nor LOGIN (offered: %s)", s.addr, authCaps(caps)))
		}
	}
	switch mech {
	case "login":
		return "LOGIN", nil
	case "plain", "cram-md5", "xoauth2", "oauthbearer":
		return strings.ToUpper(mech), nil
	}
	return "", failure.New(failure.Usage, fmt.Sprintf("imap: unknown auth %q: want auto, login, plain, cram-md5, xoauth2 or oauthbearer", opt.Auth))
}

// login authenticates as opt.Auth says, after checking that the server
// offers the mechanism (go-imap never checks) and that the connection may
// carry the credentials.
func (s *Session) login(ctx context.Context, opt *Options) error {
	if s.c.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH over implicit TLS
	}
	caps := s.c.Caps()
	if caps == nil {
		return failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: no CAPABILITY answer", s.addr))
	}
	_, encrypted := s.conn.TLSConnectionState()
	mech, err := s.mechanism(opt, caps)
	if err != nil {
		return err
	}
	if err := opt.Security.CheckAuth(mech, encrypted); err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	if mech == "LOGIN" {
		if caps.Has(imap.CapLoginDisabled) {
			return failure.New(failure.Auth, fmt.Sprintf("imap: %s: LOGIN is disabled on this server (offered: %s)", s.addr, authCaps(caps)))
		}
		err = s.c.Login(opt.User, opt.Secret).Wait()
	} else {
		if !caps.Has(imap.AuthCap(mech)) {
			return failure.New(failure.Auth, fmt.Sprintf("imap: %s: the server does not offer AUTH=%s (offered: %s)", s.addr, mech, authCaps(caps)))
		}
		client, serr := transport.SASL(mech, opt.User, opt.Secret)
		if serr != nil {
			return serr
		}
		err = s.c.Authenticate(client)
	}
	if err == nil {
		return nil
	}
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
