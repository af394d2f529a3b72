package pop3

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

var ctx = context.Background()

func TestGreetingAPOP(t *testing.T) {
	// The example of RFC 1939 §7.
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
		s.expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
		s.send("+OK maildrop has 1 message (369 octets)\r\n")
	})
	if !c.CanAPOP() {
		t.Fatal("CanAPOP false for a greeting with a timestamp")
	}
	if err := c.APOP(ctx, "mrose", "tanstaaf"); err != nil {
		t.Fatal(err)
	}
}

func TestAPOPRefused(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready <1.2@host>\r\n")
		sum := md5.Sum([]byte("<1.2@host>hunter2"))
		s.expect("APOP alice " + hex.EncodeToString(sum[:]))
		s.send("-ERR [AUTH] authentication failed\r\n")
	})
	err := c.APOP(ctx, "alice", "hunter2")
	if !IsAuth(err) || failure.KindOf(err) != failure.Auth {
		t.Fatalf("got %v, want an auth failure", err)
	}
	if got := err.Error(); got != "pop3: APOP: -ERR [AUTH] authentication failed" {
		t.Fatalf("error %q", got)
	}
}

func TestGreetingWithoutTimestamp(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready <no timestamp here>\r\n")
		s.expect("NOOP") // APOP must not have sent anything
		s.send("+OK\r\n")
	})
	if c.CanAPOP() {
		t.Fatal("CanAPOP true without an '@' in the brackets")
	}
	if err := c.APOP(ctx, "alice", "x"); err == nil || !strings.Contains(err.Error(), "no APOP timestamp") {
		t.Fatalf("APOP: %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestGreetingRefused(t *testing.T) {
	for _, tc := range []struct {
		greeting string
		kind     failure.Kind
	}{
		{"-ERR [SYS/TEMP] too many connections\r\n", failure.Temporary},
		{"-ERR [IN-USE] busy\r\n", failure.Temporary},
		{"-ERR go away\r\n", failure.Temporary},
		{"-ERR [SYS/PERM] no service here\r\n", failure.Other},
	} {
		conn := startServer(t, func(s *serverConn) { s.send(tc.greeting) })
		_, err := NewClient(conn, Options{})
		var e *Error
		if !errors.As(err, &e) || e.Command != "greeting" {
			t.Fatalf("%q: got %v, want an *Error for the greeting", tc.greeting, err)
		}
		if k := failure.KindOf(err); k != tc.kind {
			t.Errorf("%q: kind %v, want %v", tc.greeting, k, tc.kind)
		}
	}
}

// A greeting that is not +OK or -ERR is not a POP3 server: the wrong port
// or service. failure.Protocol (76), with a message that says what
// answered and where POP3 usually is.
func TestGreetingNotPOP3(t *testing.T) {
	for _, tc := range []struct{ greeting, says string }{
		{"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN] Dovecot ready.\r\n", "answered like an IMAP server"},
		{"* PREAUTH IMAP4rev1 server logged in as alice\r\n", "answered like an IMAP server"},
		{"220 mx.example.org ESMTP Postfix\r\n", "answered like an SMTP server"},
		{"SSH-2.0-OpenSSH_9.2\r\n", "answered like an SSH server"},
		{"HTTP/1.1 400 Bad Request\r\n", "did not answer like a POP3 server"},
		{"+OKAY\r\n", "did not answer like a POP3 server"},
	} {
		var port string
		conn := startServer(t, func(s *serverConn) {
			s.send(tc.greeting)
		})
		_, port, _ = net.SplitHostPort(conn.RemoteAddr().String())
		_, err := NewClient(conn, Options{})
		if failure.KindOf(err) != failure.Protocol {
			t.Errorf("%q: got %v (kind %v), want a protocol failure", tc.greeting, err, failure.KindOf(err))
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "port "+port+" "+tc.says) || !strings.Contains(msg, "POP3 is port 995 (implicit TLS) or 110") ||
			strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%q: message %q", tc.greeting, msg)
		}
	}
}

func TestCapa(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("CAPA")
		s.send("+OK Capability list follows\r\n",
			"TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\nUSER\r\nSASL PLAIN login\r\n",
			"LOGIN-DELAY 900\r\nEXPIRE NEVER\r\nIMPLEMENTATION Fake server\r\n.\r\n")
	})
	caps, err := c.Capa(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CapTop, CapUIDL, CapRespCodes, CapPipelining, CapSTLS, CapUser, "pipelining"} {
		if !caps.Has(name) {
			t.Errorf("Has(%q) false", name)
		}
	}
	if caps.Has(CapAuthRespCode) {
		t.Error("Has(AUTH-RESP-CODE) true")
	}
	if got := strings.Join(caps.SASL(), " "); got != "PLAIN LOGIN" {
		t.Errorf("SASL %q", got)
	}
	if d, ok := caps.LoginDelay(); !ok || d != 900*time.Second {
		t.Errorf("LoginDelay %v %v", d, ok)
	}
	if p, ok := caps.Expire(); !ok || !p.Never {
		t.Errorf("Expire %+v %v", p, ok)
	}
	if got := strings.Join(caps.Args(CapImplementation), " "); got != "Fake server" {
		t.Errorf("IMPLEMENTATION %q", got)
	}
}

func TestCapaCapabilityArgs(t *testing.T) {
	for _, tc := range []struct {
		caps       Capabilities
		delay      time.Duration
		delayOK    bool
		expire     ExpirePolicy
		expireOK   bool
		mechanisms string
	}{
		{caps: nil},
		{caps: Capabilities{"LOGIN-DELAY": {"USER"}, "EXPIRE": {"USER"}}},
		{caps: Capabilities{"LOGIN-DELAY": {"0"}, "EXPIRE": {"0"}}, delayOK: true, expireOK: true},
		{caps: Capabilities{"LOGIN-DELAY": {"60", "USER"}, "EXPIRE": {"30", "USER"}}, delay: time.Minute, delayOK: true, expire: ExpirePolicy{Days: 30}, expireOK: true},
		{caps: Capabilities{"LOGIN-DELAY": {"-5"}, "EXPIRE": {"never"}}, expire: ExpirePolicy{Never: true}, expireOK: true},
		{caps: Capabilities{"SASL": {"plain", "CRAM-MD5"}}, mechanisms: "PLAIN CRAM-MD5"},
	} {
		d, ok := tc.caps.LoginDelay()
		if d != tc.delay || ok != tc.delayOK {
			t.Errorf("%v: LoginDelay %v %v", tc.caps, d, ok)
		}
		p, ok := tc.caps.Expire()
		if p != tc.expire || ok != tc.expireOK {
			t.Errorf("%v: Expire %+v %v", tc.caps, p, ok)
		}
		if got := strings.Join(tc.caps.SASL(), " "); got != tc.mechanisms {
			t.Errorf("%v: SASL %q", tc.caps, got)
		}
	}
}

func TestCapaUnsupported(t *testing.T) {
	m := &mailbox{msgs: []string{"a\n", "b\n"}} // no CAPA: no pipelining
	c := dialMailbox(t, m)
	_, err := c.Capa(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Command != "CAPA" {
		t.Fatalf("got %v", err)
	}
	// The session goes on, one RETR at a time, without asking CAPA again.
	var got []string
	err = c.RetrPipelined(ctx, []int{1, 2}, 10, func(n int, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, string(b))
		return err
	})
	if err != nil || strings.Join(got, "") != "a\nb\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if cmds := strings.Join(m.commands(), ","); cmds != "CAPA,RETR 1,RETR 2" {
		t.Fatalf("commands %s", cmds)
	}
}

func TestUserPass(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("USER alice")
		s.send("+OK\r\n")
		s.expect("PASS correct horse battery staple")
		s.send("+OK logged in\r\n")
		s.expect("STAT")
		s.send("+OK 2 320\r\n")
	})
	if err := c.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	n, size, err := c.Stat(ctx)
	if err != nil || n != 2 || size != 320 {
		t.Fatalf("Stat %d %d %v", n, size, err)
	}
}

func TestLoginRefused(t *testing.T) {
	const secret = "s3cret-pw"
	for _, tc := range []struct {
		reply     string
		auth      bool
		temporary bool
		kind      failure.Kind
		code      string
	}{
		{"-ERR [AUTH] Authentication failed.", true, false, failure.Auth, "AUTH"},
		{"-ERR invalid password", true, false, failure.Auth, ""},
		{"-ERR [IN-USE] Mailbox is locked by another POP3 session", false, true, failure.Temporary, "IN-USE"},
		{"-ERR [LOGIN-DELAY] wait 15 minutes between logins", false, true, failure.Temporary, "LOGIN-DELAY"},
		{"-ERR [SYS/TEMP] database unavailable", false, true, failure.Temporary, "SYS/TEMP"},
		{"-ERR [SYS/PERM] account disabled by policy", false, false, failure.Other, "SYS/PERM"},
	} {
		c := dialScript(t, Options{}, func(s *serverConn) {
			s.send("+OK ready\r\n")
			s.expect("USER alice")
			s.send("+OK\r\n")
			s.expect("PASS " + secret)
			s.send(tc.reply + "\r\n")
			s.expect("NOOP")
			s.send("+OK\r\n")
		})
		if err := c.User(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		err := c.Pass(ctx, secret)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: got %v, want an *Error", tc.reply, err)
		}
		if e.Command != "PASS" || e.Code != tc.code {
			t.Errorf("%s: got %+v", tc.reply, e)
		}
		if IsAuth(err) != tc.auth || IsTemporary(err) != tc.temporary || failure.KindOf(err) != tc.kind {
			t.Errorf("%s: IsAuth %v IsTemporary %v kind %v", tc.reply, IsAuth(err), IsTemporary(err), failure.KindOf(err))
		}
		if want := "pop3: PASS: " + tc.reply; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows the password", err)
		}
		// A refusal leaves the session usable.
		if err := c.Noop(ctx); err != nil {
			t.Errorf("%s: NOOP after the refusal: %v", tc.reply, err)
		}
	}
}

func TestUserRefused(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("USER mallory")
		s.send("-ERR never heard of mailbox name\r\n")
	})
	err := c.User(ctx, "mallory")
	if !IsAuth(err) || err.Error() != "pop3: USER mallory: -ERR never heard of mailbox name" {
		t.Fatalf("got %v", err)
	}
}

func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		e               Error
		auth, temporary bool
	}{
		{Error{Command: "RETR 1", Text: "no such message"}, false, false},
		{Error{Command: "RETR 1", Code: "SYS/TEMP/DISK"}, false, true},
		{Error{Command: "RETR 1", Code: "AUTH"}, true, false},
		{Error{Command: "AUTH PLAIN"}, true, false},
		{Error{Command: "AUTH PLAIN", Code: "SYS/PERM"}, false, false},
		{Error{Command: "APOP", Code: "IN-USE"}, false, true},
		{Error{Command: "APOP", Code: "UNKNOWN-CODE"}, true, false},
		{Error{Command: "STAT", Code: "LOGIN-DELAY"}, false, true},
		{Error{Command: "STAT", Code: "IN-USEFUL"}, false, false},
	} {
		if IsAuth(&tc.e) != tc.auth || IsTemporary(&tc.e) != tc.temporary {
			t.Errorf("%+v: IsAuth %v IsTemporary %v", tc.e, IsAuth(&tc.e), IsTemporary(&tc.e))
		}
	}
	if IsAuth(io.EOF) || IsTemporary(nil) {
		t.Error("a non-POP3 error classified")
	}
	e := &Error{Command: "RETR 17", Code: "SYS/TEMP", Text: "text"}
	if got := e.Error(); got != "pop3: RETR 17: -ERR [SYS/TEMP] text" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Command: "NOOP"}).Error(); got != "pop3: NOOP: -ERR" {
		t.Errorf("Error() = %q", got)
	}
}

func TestArgumentInjection(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready <1.2@h>\r\n")
		s.expect("NOOP") // nothing else was sent
		s.send("+OK\r\n")
	})
	for _, err := range []error{
		c.User(ctx, "alice\r\nDELE 1"),
		c.Pass(ctx, "pw\nDELE 1"),
		c.APOP(ctx, "al\x00ice", "x"),
		c.APOP(ctx, "al ice", "x"),
		c.Dele(ctx, 0),
		c.Dele(ctx, -3),
		func() error { _, err := c.Retr(ctx, 0); return err }(),
		func() error { _, err := c.Top(ctx, 1, -1); return err }(),
		c.RetrPipelined(ctx, []int{1, 0}, 1, nil),
	} {
		if err == nil {
			t.Error("a bad argument was accepted")
		}
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestListAndUIDL(t *testing.T) {
	m := &mailbox{msgs: []string{"a\n", "bb\n", "ccc\n"}}
	c := dialMailbox(t, m)
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[2] != (MsgInfo{Num: 3, Size: 4}) {
		t.Fatalf("List %v", list)
	}
	uids, err := c.UIDL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(uids) != 3 || uids[1] != (MsgUID{Num: 2, UID: "uid-0002"}) {
		t.Fatalf("UIDL %v", uids)
	}
	one, err := c.ListOne(ctx, 2)
	if err != nil || one != (MsgInfo{Num: 2, Size: 3}) {
		t.Fatalf("ListOne %v %v", one, err)
	}
	u, err := c.UIDLOne(ctx, 3)
	if err != nil || u != (MsgUID{Num: 3, UID: "uid-0003"}) {
		t.Fatalf("UIDLOne %v %v", u, err)
	}
	_, err = c.ListOne(ctx, 9)
	var e *Error
	if !errors.As(err, &e) || e.Command != "LIST 9" {
		t.Fatalf("ListOne(9): %v", err)
	}
	if err := c.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if list, err = c.List(ctx); err != nil || len(list) != 2 {
		t.Fatalf("List after DELE %v %v", list, err)
	}
	if err := c.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 3 {
		t.Fatalf("Stat after RSET %d %v", n, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("NOOP after QUIT succeeded")
	}
}

func TestSingleLineListingMismatch(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("UIDL 2")
		s.send("+OK 3 abc\r\n")
		s.expect("LIST 2")
		s.send("+OK 2 -1\r\n")
		s.expect("UIDL 2")
		s.send("+OK 2 " + strings.Repeat("x", 71) + "\r\n")
		s.expect("NOOP")
		s.send("+OK\r\n")
	})
	if _, err := c.UIDLOne(ctx, 2); err == nil || !strings.Contains(err.Error(), "pop3: UIDL 2: reply is for message 3") {
		t.Errorf("UIDLOne: %v", err)
	}
	if _, err := c.ListOne(ctx, 2); err == nil || !strings.Contains(err.Error(), "pop3: LIST 2: size") {
		t.Errorf("ListOne: %v", err)
	}
	if _, err := c.UIDLOne(ctx, 2); err == nil || !strings.Contains(err.Error(), "length 71") {
		t.Errorf("UIDLOne: %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHostileReplies: malformed replies give an error naming the command,
// and the session is either still in step or refused from then on.
func TestHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmd     string
		reply   string
		call    func(c *Client) error
		want    string
		inStep  bool // the session may go on
		opt     Options
		consume bool // the reply is fully read: the script can expect NOOP
	}{
		{name: "overlong status line", reply: "+OK " + strings.Repeat("x", 200) + "\r\n", opt: Options{MaxLine: 100},
			call: func(c *Client) error { return c.Noop(ctx) }, cmd: "NOOP", want: "pop3: NOOP: line longer than 100 bytes"},
		{name: "endless status line", reply: strings.Repeat("x", 30000), opt: Options{},
			call: func(c *Client) error { return c.Noop(ctx) }, cmd: "NOOP", want: "pop3: NOOP: line longer than 8192 bytes"},
		{name: "garbage status", reply: "* OK IMAP4rev1\r\n",
			call: func(c *Client) error { return c.Noop(ctx) }, cmd: "NOOP", want: "pop3: NOOP: not a status line"},
		{name: "STAT huge count", reply: "+OK 99999999999999999999999 1\r\n", inStep: true,
			call: func(c *Client) error { _, _, err := c.Stat(ctx); return err }, cmd: "STAT", want: "pop3: STAT: message count"},
		{name: "STAT negative size", reply: "+OK 1 -1\r\n", inStep: true,
			call: func(c *Client) error { _, _, err := c.Stat(ctx); return err }, cmd: "STAT", want: "pop3: STAT: size \"-1\""},
		{name: "LIST non-numeric", reply: "+OK\r\n1 100\r\n2 lots\r\n3 5\r\n.\r\n", inStep: true,
			call: func(c *Client) error { _, err := c.List(ctx); return err }, cmd: "LIST", want: "pop3: LIST: line 2: size \"lots\""},
		{name: "UIDL duplicate", reply: "+OK\r\n1 a\r\n2 a\r\n.\r\n", inStep: true,
			call: func(c *Client) error { _, err := c.UIDL(ctx); return err }, cmd: "UIDL", want: "pop3: UIDL: line 2: unique-id \"a\" of message 2 is also that of message 1"},
		{name: "UIDL over MaxListing", reply: "+OK\r\n" + strings.Repeat("1 a\r\n", 100) + ".\r\n", opt: Options{MaxListing: 100},
			call: func(c *Client) error { _, err := c.UIDL(ctx); return err }, cmd: "UIDL", want: "pop3: UIDL: multi-line reply longer than 100 bytes"},
		{name: "UIDL without terminator", reply: "+OK\r\n1 a\r\n",
			call: func(c *Client) error { _, err := c.UIDL(ctx); return err }, cmd: "UIDL", want: "pop3: UIDL: connection closed by the server: unexpected EOF"},
		{name: "CAPA control character", reply: "+OK\r\nSASL PLAIN\x1b[2J\r\n.\r\n", inStep: true,
			call: func(c *Client) error { _, err := c.Capa(ctx); return err }, cmd: "CAPA", want: "pop3: CAPA: line 1: invalid capability argument"},
		{name: "RETR message line over the bound", reply: "+OK\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\n", opt: Options{MaxMessageLine: 1000},
			call: func(c *Client) error {
				body, err := c.Retr(ctx, 1)
				if err != nil {
					return err
				}
				_, err = io.ReadAll(body)
				return err
			}, cmd: "RETR 1", want: "pop3: RETR 1: message line longer than 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialScript(t, tc.opt, func(s *serverConn) {
				s.send("+OK ready\r\n")
				s.expect(tc.cmd)
				s.send(tc.reply)
				if tc.inStep {
					s.expect("NOOP")
					s.send("+OK\r\n")
					return
				}
				if !strings.Contains(tc.name, "terminator") {
					s.expectEOF()
				}
			})
			err := tc.call(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			err = c.Noop(ctx)
			if tc.inStep && err != nil {
				t.Fatalf("NOOP after the error: %v", err)
			}
			if !tc.inStep && (err == nil || !strings.Contains(err.Error(), "session unusable")) {
				t.Fatalf("NOOP after the error: %v, want the session refused", err)
			}
			c.Close()
		})
	}
}

func TestSTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("CAPA")
		s.send("+OK\r\nSTLS\r\nUSER\r\n.\r\n")
		s.expect("STLS")
		s.send("+OK Begin TLS negotiation now\r\n")
		s.startTLS(serverTLS)
		s.expect("CAPA")
		s.send("+OK\r\nUSER\r\nPIPELINING\r\n.\r\n")
		s.expect("USER alice")
		s.send("+OK\r\n")
	})
	caps, err := c.Capa(ctx)
	if err != nil || !caps.Has(CapSTLS) {
		t.Fatalf("CAPA %v %v", caps, err)
	}
	var tc *tls.Conn
	err = c.STLS(ctx, func(conn net.Conn) (net.Conn, error) {
		tc = tls.Client(conn, clientTLS)
		return tc, tc.HandshakeContext(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tc.ConnectionState().HandshakeComplete {
		t.Fatal("no TLS")
	}
	if c.capsKnown {
		t.Fatal("capabilities from before STLS are still trusted")
	}
	if caps, err = c.Capa(ctx); err != nil || !caps.Has(CapPipelining) {
		t.Fatalf("CAPA over TLS %v %v", caps, err)
	}
	if err := c.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestSTLSInjection(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("STLS")
		// A man in the middle appends a reply to the plaintext +OK; it
		// must not be read later as if it had come over TLS.
		s.send("+OK Begin TLS\r\n+OK injected\r\n")
		s.expectEOF()
	})
	called := false
	err := c.STLS(ctx, func(conn net.Conn) (net.Conn, error) {
		called = true
		return conn, nil
	})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS injection") {
		t.Fatalf("got %v", err)
	}
	if called {
		t.Fatal("upgrade called despite injected bytes")
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("session usable after the injection")
	}
	c.Close()
}

func TestSTLSRefused(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("STLS")
		s.send("-ERR [SYS/PERM] TLS not configured\r\n")
	})
	err := c.STLS(ctx, func(conn net.Conn) (net.Conn, error) {
		t.Error("upgrade called after -ERR")
		return conn, nil
	})
	var e *Error
	if !errors.As(err, &e) || e.Command != "STLS" || e.Code != "SYS/PERM" {
		t.Fatalf("got %v", err)
	}
}

func TestSTLSHandshakeFails(t *testing.T) {
	_, clientTLS := testTLS(t)
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("STLS")
		s.send("+OK go ahead\r\n")
		s.send("this is not TLS\r\n")
		s.expectEOF()
	})
	err := c.STLS(ctx, func(conn net.Conn) (net.Conn, error) {
		tc := tls.Client(conn, clientTLS)
		return tc, tc.HandshakeContext(ctx)
	})
	if err == nil || !strings.HasPrefix(err.Error(), "pop3: STLS: ") {
		t.Fatalf("got %v", err)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("session usable after a failed handshake")
	}
	c.Close()
}

// messages for the RETR tests: the tricky shapes, given with LF endings as
// they must come out of the reader.
var trickyMessages = []string{
	"Subject: dots\n\n.leading dot\n..two dots\n.\nafter a lone dot\n",
	"",
	"Subject: header only\nFrom: a@example.org\n",
	".\n",
	"bare\rCR kept\n\n",
	"8-bit: \xe4\xf6\xfc \x00 nul\n",
	strings.Repeat("long line ", 20000) + "\n" + strings.Repeat(".", 100) + "\n",
}

func TestRetr(t *testing.T) {
	for _, eol := range []string{"\r\n", "\n"} {
		m := &mailbox{msgs: trickyMessages, lineEnd: eol}
		c := dialMailbox(t, m)
		for i, want := range trickyMessages {
			body, err := c.Retr(ctx, i+1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("line end %q, message %d: got %q, want %q", eol, i+1, trim(got), trim([]byte(want)))
			}
			if err := body.Close(); err != nil {
				t.Fatal(err)
			}
		}
		body, err := c.Top(ctx, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(body); err != nil || string(got) != trickyMessages[2] {
			t.Errorf("TOP: %q %v", got, err)
		}
		_, err = c.Retr(ctx, 99)
		var e *Error
		if !errors.As(err, &e) || e.Command != "RETR 99" {
			t.Fatalf("RETR 99: %v", err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func trim(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

func TestRetrCloseDrains(t *testing.T) {
	m := &mailbox{msgs: []string{strings.Repeat("some text\n", 50000), "next\n"}}
	c := dialMailbox(t, m)
	body, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr(ctx, 2); err == nil || !strings.Contains(err.Error(), "body is still open") {
		t.Fatalf("a command with a body open: %v", err)
	}
	if _, err := io.ReadFull(body, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := body.Close(); err != nil {
		t.Fatal(err)
	}
	if err := body.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	body, err = c.Retr(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(body); err != nil || string(got) != "next\n" {
		t.Fatalf("after the drained body: %q %v", got, err)
	}
}

func TestRetrConnectionCut(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("RETR 17")
		s.send("+OK 120 octets\r\nSubject: cut\r\n\r\nthe first line\r\nthe sec")
	})
	body, err := c.Retr(ctx, 17)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %q, %v: want io.ErrUnexpectedEOF", got, err)
	}
	if !strings.HasPrefix(err.Error(), "pop3: RETR 17: ") {
		t.Errorf("error %q does not name the command", err)
	}
	if failure.KindOf(err) != failure.Temporary {
		t.Errorf("kind %v, want temporary", failure.KindOf(err))
	}
	if cerr := body.Close(); !errors.Is(cerr, io.ErrUnexpectedEOF) {
		t.Errorf("Close: %v, want the same error", cerr)
	}
	if err := c.Noop(ctx); err == nil || !strings.Contains(err.Error(), "session unusable") {
		t.Errorf("NOOP after the cut: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("RETR 1")
		s.send("+OK\r\nfirst line\r\n")
		cancel() // the client may or may not be blocked in Read by now: both must end the same way
		s.expectEOF()
	})
	// The cancellation may reach the client before or after the status line.
	body, err := c.Retr(cctx, 1)
	if err == nil {
		_, err = io.ReadAll(body)
	}
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "pop3: RETR 1: ") {
		t.Fatalf("got %v, want context.Canceled for RETR 1", err)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("session usable after a cancelled call")
	}
	c.Close()
}

func TestContextDone(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("NOOP")
		s.send("+OK\r\n")
	})
	done, cancel := context.WithDeadline(ctx, time.Unix(0, 0))
	defer cancel()
	err := c.Noop(done)
	if !errors.Is(err, context.DeadlineExceeded) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("got %v", err)
	}
	// Nothing was sent, so the session is intact.
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancelledWhileBlocked(t *testing.T) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("NOOP")
		cancel() // the reply never comes
		s.expectEOF()
	})
	err := c.Noop(cctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	c.Close()
}

// TestDeadlineOwnedByConn: a deadline set by the connection's owner (as
// transport.Conn does) surfaces as a timeout, which package failure takes
// for Temporary.
func TestDeadlineOwnedByConn(t *testing.T) {
	conn := startServer(t, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("NOOP")
		s.expectEOF()
	})
	c, err := NewClient(conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now()) // already past when NOOP reads
	err = c.Noop(ctx)
	if !errors.Is(err, os.ErrDeadlineExceeded) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("got %v", err)
	}
	c.Close()
}

func TestQuitRefused(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("DELE 1")
		s.send("+OK\r\n")
		s.expect("QUIT")
		s.send("-ERR [SYS/TEMP] some deleted messages not removed\r\n")
		s.expectEOF()
	})
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	err := c.Quit(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Command != "QUIT" {
		t.Fatalf("got %v", err)
	}
}
