package fetch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// courierMessages are messages as a Courier POP3 server holds them: some
// with raw UTF-8 in the header (RFC 6532), which Courier replaces by a
// stub for a client that did not send UTF8 (RFC 6856).
func courierMessages() []fakeMsg {
	msgs := testMessages(3)
	for i := range 3 {
		raw := fmt.Appendf(nil, "Message-ID: <utf8-%d@test>\nFrom: Jörg Müller <joerg@例え.jp>\nSubject: Grüße, 日本 %d\n"+
			"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nDie Nachricht selbst, Nummer %d.\n", i, i, i)
		stub := fmt.Appendf(nil, "Message-ID: <stub-%d@courier>\nFrom: Courier mail server\nSubject: Cannot display Unicode content\n"+
			"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"+
			"This message has Unicode content that cannot be displayed by your mail client.\n--b\n"+
			"Content-Type: message/global\n\n%s--b--\n", i, raw)
		msgs = append(msgs, fakeMsg{UIDL: fmt.Sprintf("utf8-%d", i), Raw: raw, Stub: stub})
	}
	return msgs
}

// A Courier-like server serves a stub for a message whose header has raw
// UTF-8 unless the client sent UTF8. The client sends it (before login,
// with the login command): the real messages land byte for byte, and the
// server deletes only what was delivered (one message it refuses to serve
// stays).
func TestFakeCourierUTF8(t *testing.T) {
	t.Parallel()
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			msgs := courierMessages()
			srv := newFakeServer(t, msgs)
			srv.set(func(s *fakeServer) { s.utf8, s.pipelining, s.retrErr = true, pipelining, 2 })
			a := newAccount(t, t.TempDir())
			res, err := Run(context.Background(), a.fakeOptions(srv, nil))
			if failure.KindOf(err) != failure.Partial {
				t.Fatalf("got %v, want a partial failure (message 2 refused)", err)
			}
			want := append(raws(msgs[:1]), raws(msgs[2:])...)
			sameMessages(t, a.delivered(t), want)
			if res.Delivered != len(want) || res.Deleted != len(want) {
				t.Errorf("result %+v", res)
			}
			if left := srv.remaining(); len(left) != 1 || left[0].UIDL != msgs[1].UIDL {
				t.Errorf("left on the server: %d messages", len(left))
			}
			cmds := srv.cmds()
			i := slices.Index(cmds, "UTF8")
			if i < 0 || cmds[i+1] != "USER alice" || slices.Index(cmds[i+1:], "UTF8") >= 0 {
				t.Errorf("UTF8 not sent once, just before the login: %q", cmds)
			}
		})
	}
}

// A server that lists UTF8 but refuses it still works: the run goes on
// and a notice says what that may mean. A server without UTF8 is not
// sent it.
func TestFakeUTF8Refused(t *testing.T) {
	t.Parallel()
	msgs := courierMessages()
	srv := newFakeServer(t, msgs)
	srv.set(func(s *fakeServer) { s.utf8, s.utf8Refuse = true, true })
	a := newAccount(t, t.TempDir())
	rec := &recorder{}
	opt := a.fakeOptions(srv, rec)
	opt.Keep = true
	res, err := Run(context.Background(), opt)
	if err != nil || res.Delivered != len(msgs) {
		t.Fatalf("%+v %v", res, err)
	}
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "refused it") {
		t.Errorf("notices %q", n)
	}
	srv.set(func(s *fakeServer) { s.utf8, s.utf8Refuse = false, false })
	srv.cmds()
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(srv.cmds(), "UTF8") {
		t.Error("UTF8 sent to a server that does not list it")
	}
}

// A POP3 client pointed at an IMAP port fails at once with a protocol
// error that says so, against the real server.
func TestDovecotWrongPort(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "wrongport")
	a := newAccount(t, t.TempDir())
	for _, tc := range []struct {
		port int
		mode transport.TLSMode
	}{{srv.IMAPSPort, transport.TLSImplicit}, {srv.IMAPPort, transport.TLSNone}} {
		opt := a.dovecotOptions(srv, "wrongport", tc.mode, nil)
		opt.Port = tc.port
		opt.Security.AllowPlaintextAuth = true
		_, err := Run(context.Background(), opt)
		if failure.KindOf(err) != failure.Protocol {
			t.Fatalf("port %d: got %v (kind %v), want a protocol failure", tc.port, err, failure.KindOf(err))
		}
		if want := fmt.Sprintf("port %d answered like an IMAP server", tc.port); !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "POP3 is port 995 (implicit TLS) or 110") {
			t.Errorf("message %q", err)
		}
	}
	if n := len(a.delivered(t)); n != 0 {
		t.Errorf("%d delivered", n)
	}
}
