package pop3

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/mailfetch/mailfetch/internal/failure"
)

// cramMD5 is a test-only SASL CRAM-MD5 client (RFC 2195); go-sasl has none.
type cramMD5 struct{ user, secret string }

func (c cramMD5) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (c cramMD5) Next(challenge []byte) ([]byte, error) {
	mac := hmac.New(md5.New, []byte(c.secret))
	mac.Write(challenge)
	return []byte(c.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
}

// classicLogin is the LOGIN mechanism as most servers run it: no initial
// response, a "Username:" and a "Password:" challenge. go-sasl's LOGIN
// client sends the user name as an initial response instead.
type classicLogin struct{ user, secret string }

func (c classicLogin) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (c classicLogin) Next(challenge []byte) ([]byte, error) {
	switch string(challenge) {
	case "Username:":
		return []byte(c.user), nil
	case "Password:":
		return []byte(c.secret), nil
	}
	return nil, sasl.ErrUnexpectedServerChallenge
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthPlainInitialResponse(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH PLAIN " + b64("\x00alice\x00secret"))
		s.send("+OK Logged in.\r\n")
	})
	if err := c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
}

func TestAuthLoginGoSASL(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH LOGIN " + b64("alice"))
		s.send("+ " + b64("Password:") + "\r\n")
		s.expect(b64("secret"))
		s.send("+OK Logged in.\r\n")
	})
	if err := c.Auth(ctx, sasl.NewLoginClient("alice", "secret")); err != nil {
		t.Fatal(err)
	}
}

func TestAuthLoginChallenges(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH LOGIN")
		s.send("+ " + b64("Username:") + "\r\n")
		s.expect(b64("alice"))
		s.send("+ " + strings.TrimRight(b64("Password:"), "=") + "\r\n") // unpadded, as some servers send
		s.expect(b64("secret"))
		s.send("+OK Logged in.\r\n")
	})
	if err := c.Auth(ctx, classicLogin{"alice", "secret"}); err != nil {
		t.Fatal(err)
	}
}

func TestAuthCRAMMD5(t *testing.T) {
	// The example of RFC 2195 §2.
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH CRAM-MD5")
		s.send("+ " + b64("<1896.697170952@postoffice.reston.mci.net>") + "\r\n")
		s.expect(b64("tim b913a602c7eda7a495b4e6e7334d3890"))
		s.send("+OK\r\n")
	})
	if err := c.Auth(ctx, cramMD5{"tim", "tanstaaftanstaaf"}); err != nil {
		t.Fatal(err)
	}
}

func TestAuthEmptyInitialResponse(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH EXTERNAL =") // RFC 5034 §4: "=" stands for an empty initial response
		s.send("+OK\r\n")
	})
	if err := c.Auth(ctx, sasl.NewExternalClient("")); err != nil {
		t.Fatal(err)
	}
}

func TestAuthLongInitialResponse(t *testing.T) {
	secret := strings.Repeat("p", 300)
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		// Over 255 octets the initial response waits for an empty challenge.
		s.expect("AUTH PLAIN")
		s.send("+ \r\n")
		s.expect(b64("\x00alice\x00" + secret))
		s.send("+OK\r\n")
	})
	if err := c.Auth(ctx, sasl.NewPlainClient("", "alice", secret)); err != nil {
		t.Fatal(err)
	}
}

func TestAuthRefused(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH PLAIN " + b64("\x00alice\x00wrong"))
		s.send("-ERR [AUTH] Authentication failed.\r\n")
	})
	err := c.Auth(ctx, sasl.NewPlainClient("", "alice", "wrong"))
	if !IsAuth(err) || failure.KindOf(err) != failure.Auth {
		t.Fatalf("got %v", err)
	}
	if got := err.Error(); got != "pop3: AUTH PLAIN: -ERR [AUTH] Authentication failed." {
		t.Fatalf("error %q", got)
	}
}

func TestAuthCancelled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mech      sasl.Client
		challenge string
		want      string
	}{
		{"bad base64", classicLogin{"alice", "x"}, "+ !!!not base64!!!", "challenge is not base64"},
		{"mechanism refuses challenge", classicLogin{"alice", "x"}, "+ " + b64("Who are you?"), "sasl: unexpected server challenge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialScript(t, Options{}, func(s *serverConn) {
				s.send("+OK ready\r\n")
				s.expect("AUTH LOGIN")
				s.send(tc.challenge + "\r\n")
				s.expect("*")
				s.send("-ERR Authentication cancelled\r\n")
				s.expect("NOOP")
				s.send("+OK\r\n")
			})
			err := c.Auth(ctx, tc.mech)
			if err == nil || !strings.Contains(err.Error(), "pop3: AUTH LOGIN: cancelled: "+tc.want) {
				t.Fatalf("got %v", err)
			}
			if err := c.Noop(ctx); err != nil {
				t.Fatalf("NOOP after a cancelled AUTH: %v", err)
			}
		})
	}
}

func TestAuthEndlessChallenges(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH LOGIN")
		for range maxAuthRounds {
			s.send("+ " + b64("Username:") + "\r\n")
			s.expect(b64("alice"))
		}
		s.send("+ " + b64("Username:") + "\r\n")
		s.expect("*")
		s.send("-ERR cancelled\r\n")
	})
	err := c.Auth(ctx, classicLogin{"alice", "x"})
	if err == nil || !strings.Contains(err.Error(), "more than 32 challenges") {
		t.Fatalf("got %v", err)
	}
}

func TestAuthCancelAccepted(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("AUTH LOGIN")
		s.send("+ ???\r\n")
		s.expect("*")
		s.send("+OK fine, you're in\r\n")
		s.expectEOF()
	})
	err := c.Auth(ctx, classicLogin{"alice", "x"})
	if err == nil || !strings.Contains(err.Error(), "accepted a cancelled authentication") {
		t.Fatalf("got %v", err)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("session usable in an unknown state")
	}
	c.Close()
}

func TestAuthBadMechanism(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) { s.send("+OK ready\r\n") })
	err := c.Auth(ctx, badMech{})
	if err == nil || !strings.Contains(err.Error(), "invalid mechanism name") {
		t.Fatalf("got %v", err)
	}
	startErr := errors.New("no token")
	if err := c.Auth(ctx, failingStart{startErr}); !errors.Is(err, startErr) {
		t.Fatalf("got %v", err)
	}
}

type badMech struct{}

func (badMech) Start() (string, []byte, error) { return "PLAIN\r\nDELE 1", nil, nil }
func (badMech) Next([]byte) ([]byte, error)    { return nil, nil }

type failingStart struct{ err error }

func (f failingStart) Start() (string, []byte, error) { return "", nil, f.err }
func (f failingStart) Next([]byte) ([]byte, error)    { return nil, nil }

// UTF8 (RFC 6856) goes out with the login command, in the same write when
// the server pipelines: the server reads both lines before it answers
// either, so the client did not wait for UTF8's reply.
func TestUTF8Pipelined(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("CAPA")
		s.send("+OK\r\nUSER\r\nPIPELINING\r\nUTF8 USER\r\n.\r\n")
		s.expect("UTF8")
		s.expect("USER alice")
		s.send("+OK UTF8 enabled\r\n+OK\r\n")
		s.expect("PASS secret")
		s.send("+OK logged in\r\n")
		s.expect("STAT") // UTF8 is sent once
		s.send("+OK 0 0\r\n")
	})
	caps, err := c.Capa(ctx)
	if err != nil || !caps.Has(CapUTF8) || !slices.Equal(caps.Args(CapUTF8), []string{"USER"}) {
		t.Fatalf("CAPA %v %v", caps, err)
	}
	c.EnableUTF8()
	if err := c.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	if on, err := c.UTF8Mode(); !on || err != nil {
		t.Errorf("UTF8Mode %v %v", on, err)
	}
	if _, _, err := c.Stat(ctx); err != nil {
		t.Fatal(err)
	}
}

// Without PIPELINING, UTF8 waits for its reply before the login command;
// a refusal leaves the session working, without UTF-8 mode. With AUTH the
// same holds.
func TestUTF8RefusedNoPipelining(t *testing.T) {
	c := dialScript(t, Options{}, func(s *serverConn) {
		s.send("+OK ready\r\n")
		s.expect("CAPA")
		s.send("+OK\r\nSASL PLAIN\r\nUTF8\r\n.\r\n")
		s.expect("UTF8")
		if s.br.Buffered() != 0 {
			s.fatalf("the client sent more before UTF8's reply")
		}
		s.send("-ERR [SYS/PERM] not today\r\n")
		s.expect("AUTH PLAIN " + b64("\x00alice\x00secret"))
		s.send("+OK\r\n")
		s.expect("STAT")
		s.send("+OK 0 0\r\n")
	})
	if _, err := c.Capa(ctx); err != nil {
		t.Fatal(err)
	}
	c.EnableUTF8()
	if err := c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	on, err := c.UTF8Mode()
	var e *Error
	if on || !errors.As(err, &e) || e.Command != "UTF8" {
		t.Errorf("UTF8Mode %v %v", on, err)
	}
	if _, _, err := c.Stat(ctx); err != nil {
		t.Fatal(err)
	}
}
