package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/pop3"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// session is a logged-in POP3 connection.
type session struct {
	conn   *transport.Conn
	c      *pop3.Client
	window int
}

// connect dials, secures the connection as opt.Security says, and logs in.
//
// STARTTLS is required, not opportunistic: a server whose CAPA does not
// list STLS is refused before anything but CAPA was sent. Credentials go
// over a connection without TLS only as transport.Security.CheckAuth allows
// (AllowPlaintextAuth, or a mechanism that does not show the secret).
func connect(ctx context.Context, opt Options) (*session, error) {
	port := opt.Port
	if port == 0 {
		port = transport.DefaultPort("pop3", opt.Security.Mode)
	}
	addr := net.JoinHostPort(opt.Host, strconv.Itoa(port))
	conn, err := transport.Dial(ctx, addr, opt.Security, opt.Timeouts)
	if err != nil {
		return nil, err
	}
	if opt.Trace != nil {
		conn.SetTrace(transport.NewTrace(opt.Trace, "pop3"))
	}
	c, err := pop3.NewClient(conn, pop3.Options{})
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &session{conn: conn, c: c, window: opt.Window}
	if err := s.secureAndLogin(ctx, opt, addr); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) secureAndLogin(ctx context.Context, opt Options, addr string) error {
	caps, err := s.capa(ctx)
	if err != nil {
		return err
	}
	encrypted := opt.Security.Mode == transport.TLSImplicit
	if opt.Security.Mode == transport.TLSStartTLS {
		if !caps.Has(pop3.CapSTLS) {
			return failure.New(failure.Other, fmt.Sprintf("pop3: %s does not offer STLS (STARTTLS): "+
				"refusing to go on without TLS; use --tls implicit if the server has a TLS port (995)", addr))
		}
		cfg, err := opt.Security.TLSConfig(opt.Host)
		if err != nil {
			return err
		}
		err = s.c.STLS(ctx, func(nc net.Conn) (net.Conn, error) {
			if err := s.conn.StartTLS(ctx, cfg); err != nil {
				return nil, err
			}
			return nc, nil
		})
		if err != nil {
			return err
		}
		encrypted = true
		// RFC 2595 §4: capabilities may differ after STLS; the old
		// list must not be trusted.
		if caps, err = s.capa(ctx); err != nil {
			return err
		}
	}
	if caps.Has(pop3.CapUTF8) {
		// RFC 6856: without UTF8 a server may serve a stand-in for a
		// message whose header has raw UTF-8 (Courier: a "Cannot display
		// Unicode content" stub), and in delete mode the original would
		// be deleted. Valid only before login, after STLS; it goes out
		// with the login command, without a round trip of its own.
		s.c.EnableUTF8()
	}
	return s.login(ctx, opt, caps, encrypted)
}

// utf8Refused is the server's -ERR to UTF8, nil when it accepted it or
// was not asked.
func (s *session) utf8Refused() error {
	_, err := s.c.UTF8Mode()
	return err
}

// capa asks CAPA; a server without it (-ERR) has no capabilities.
func (s *session) capa(ctx context.Context) (pop3.Capabilities, error) {
	caps, err := s.c.Capa(ctx)
	var pe *pop3.Error
	if err != nil && !errors.As(err, &pe) {
		return nil, classify(err)
	}
	return caps, nil
}

// login authenticates as opt.Auth says. "auto" is transport.AutoLogin's
// choice with POP3's order: the strongest SASL mechanism the server offers
// that the connection allows, else USER/PASS, or APOP where nothing
// protects a password.
func (s *session) login(ctx context.Context, opt Options, caps pop3.Capabilities, encrypted bool) error {
	mech := strings.ToLower(strings.TrimSpace(opt.Auth))
	if mech == "" || mech == "auto" {
		offer := transport.LoginOffer{
			SASL: caps.SASL(), Command: "USER",
			Protected: encrypted || opt.Security.AllowPlaintextAuth,
		}
		if s.c.CanAPOP() {
			offer.Digest = "APOP"
		}
		// USER is always on the list: a server without CAPA (RFC 1939
		// only) takes it, and where nothing else is offered CheckAuth
		// below explains a refusal.
		name, _, _ := transport.AutoLogin(offer, transport.POP3Auto)
		mech = strings.ToLower(name)
	}
	var err error
	switch mech {
	case "user":
		if err = opt.Security.CheckAuth("USER", encrypted); err != nil {
			return err
		}
		if err = s.c.User(ctx, opt.User); err == nil {
			err = s.c.Pass(ctx, opt.Secret)
		}
	case "apop":
		if err = opt.Security.CheckAuth("APOP", encrypted); err != nil {
			return err
		}
		err = s.c.APOP(ctx, opt.User, opt.Secret)
	default:
		if err = opt.Security.CheckAuth(mech, encrypted); err != nil {
			return err
		}
		sc, serr := transport.SASL(mech, opt.User, opt.Secret)
		if serr != nil {
			return serr
		}
		err = s.c.Auth(ctx, sc)
	}
	if err != nil {
		return classifyLogin(err)
	}
	return nil
}

// classifyLogin gives a failed login its kind: pop3 classifies -ERR
// replies (Auth, or Temporary for IN-USE, LOGIN-DELAY, SYS/TEMP); a -ERR
// to a login command without a code it recognised is still a refused
// login.
func classifyLogin(err error) error {
	var pe *pop3.Error
	if errors.As(err, &pe) && failure.KindOf(err) == failure.Other && !strings.HasPrefix(pe.Code, "SYS") {
		return failure.Wrap(failure.Auth, err)
	}
	return classify(err)
}

// classify makes sure a network error is Temporary whatever wrapped it
// (transport.Classify).
func classify(err error) error { return transport.Classify(err) }

// stat returns the maildrop's message count and size.
func (s *session) stat(ctx context.Context) (int, int64, error) {
	n, size, err := s.c.Stat(ctx)
	return n, size, classify(err)
}

// capabilities lists CAPA's names with their arguments, as the server wrote
// them ("SASL PLAIN LOGIN").
func (s *session) capabilities(ctx context.Context) ([]string, error) {
	caps, err := s.capa(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range caps.Names() {
		out = append(out, strings.TrimSpace(name+" "+strings.Join(caps.Args(name), " ")))
	}
	return out, nil
}

// listing returns LIST's sizes and UIDL's unique-ids by message number;
// hasUIDL is false (and uidls nil) when the server refuses UIDL.
func (s *session) listing(ctx context.Context) (sizes map[int]int64, uidls map[int]string, hasUIDL bool, err error) {
	ul, hasUIDL, ll, err := s.c.UIDLAndList(ctx)
	if err != nil {
		return nil, nil, false, classify(err)
	}
	if hasUIDL {
		uidls = make(map[int]string, len(ul))
		for _, u := range ul {
			uidls[u.Num] = u.UID
		}
	}
	sizes = make(map[int]int64, len(ll))
	for _, m := range ll {
		sizes[m.Num] = m.Size
	}
	return sizes, uidls, hasUIDL, nil
}

// retrieve streams messages nums through fn, pipelined when the server
// allows. A message the server refuses (RETR -ERR) goes to refused and the
// others continue; an error from fn, or of the connection, stops it.
func (s *session) retrieve(ctx context.Context, nums []int, fn func(n int, body io.Reader) error, refused func(n int, err error)) error {
	for len(nums) > 0 {
		var fnErr error
		err := s.c.RetrPipelined(ctx, nums, s.window, func(n int, body io.Reader) error {
			fnErr = fn(n, body)
			return fnErr
		})
		if err == nil {
			return nil
		}
		var me *pop3.MessageError
		if !errors.As(err, &me) {
			return classify(err)
		}
		if fnErr != nil && me.Err == fnErr {
			return fnErr
		}
		var pe *pop3.Error
		if !errors.As(me.Err, &pe) {
			return classify(err)
		}
		refused(me.Num, err)
		i := indexOf(nums, me.Num)
		if i < 0 {
			return err
		}
		nums = nums[i+1:]
	}
	return nil
}

// topInfo is what TOP n 0 tells about a message without downloading it:
// its decoded header (for a dry run to describe it) and its header's
// match key (to find it in a Maildir, see rematch).
type topInfo struct {
	header maildir.Header
	key    maildir.HeaderKey
}

// headers returns what TOP n 0 tells about each message of nums,
// pipelined; the decoded header only with display (a dry run shows it,
// a re-match of thousands of messages need not hold it). TOP is optional
// (RFC 1939 §7): a server that refuses it for the first message asked
// gives none, and no error; a message refused later is left out and the
// others are asked for.
func (s *session) headers(ctx context.Context, nums []int, display bool) (map[int]topInfo, error) {
	out := make(map[int]topInfo, len(nums))
	for len(nums) > 0 {
		err := s.c.TopPipelined(ctx, nums, 0, s.window, func(n int, body io.Reader) error {
			var kw maildir.KeyWriter
			capture := cappedBuffer{}
			if display {
				capture.max = maxTopCapture
			}
			if _, err := io.Copy(io.MultiWriter(&kw, &capture), body); err != nil {
				return err
			}
			info := topInfo{key: kw.HeaderKey()}
			if display {
				info.header = maildir.ReadHeader(bytes.NewReader(capture.b))
			}
			out[n] = info
			return nil
		})
		if err == nil {
			return out, nil
		}
		var me *pop3.MessageError
		var pe *pop3.Error
		if !errors.As(err, &me) || !errors.As(me.Err, &pe) {
			return nil, classify(err)
		}
		i := indexOf(nums, me.Num)
		if i < 0 || (i == 0 && len(out) == 0) {
			return out, nil // no TOP on this server
		}
		nums = nums[i+1:]
	}
	return out, nil
}

// maxTopCapture bounds the part of a TOP reply kept to decode the header
// for display; the match key streams over all of it.
const maxTopCapture = 64 << 10

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	b   []byte
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func indexOf(a []int, v int) int {
	for i, x := range a {
		if x == v {
			return i
		}
	}
	return -1
}

// dele marks messages nums deleted, pipelined when the server allows. The
// DELEs the server refused are returned by number; a connection error
// stops it and is returned.
func (s *session) dele(ctx context.Context, nums []int) (map[int]error, error) {
	err := s.c.DelePipelined(ctx, nums, s.window)
	if err == nil {
		return nil, nil
	}
	refused := map[int]error{}
	var connErr error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var me *pop3.MessageError
		var pe *pop3.Error
		if errors.As(err, &me) && errors.As(me.Err, &pe) {
			refused[me.Num] = err
		} else if connErr == nil {
			connErr = classify(err)
		}
	}
	walk(err)
	return refused, connErr
}

// quit ends the session; its +OK commits the deletions.
func (s *session) quit(ctx context.Context) error {
	return classify(s.c.Quit(ctx))
}

// close drops the connection without QUIT: the server deletes nothing.
func (s *session) close() {
	s.c.Close()
}
