package pop3

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A fake POP3 server for fault tests: scripted, in-process, on 127.0.0.1
// only. The real server (Dovecot) is for the integration tests of fetch/.

// serverConn is the server side of one scripted session.
type serverConn struct {
	t           testing.TB
	conn        net.Conn
	br          *bufio.Reader
	quietWrites bool
}

// abortScript unwinds a script after a failed expectation (t.FailNow may
// not be called from the server goroutine).
type abortScript struct{}

func (s *serverConn) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("fake server: "+format, args...)
	panic(abortScript{})
}

// send writes its arguments in one Write, so that they arrive together.
// A script fails on a write error; a mailbox (quietWrites) just stops, as a
// client may leave in the middle of a reply.
func (s *serverConn) send(parts ...string) {
	s.t.Helper()
	if _, err := io.WriteString(s.conn, strings.Join(parts, "")); err != nil {
		if s.quietWrites {
			panic(abortScript{})
		}
		s.fatalf("write: %v", err)
	}
}

// readLine returns the client's next line without CRLF; io.EOF when the
// client has closed the connection.
func (s *serverConn) readLine() (string, error) {
	line, err := s.br.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line == "" {
			return "", io.EOF
		}
		return "", fmt.Errorf("read: %w (after %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("client line %q does not end with CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

// expect reads one line and fails the test unless it is want.
func (s *serverConn) expect(want string) {
	s.t.Helper()
	got, err := s.readLine()
	if err != nil {
		s.fatalf("want %q: %v", want, err)
	}
	if got != want {
		s.fatalf("got %q, want %q", got, want)
	}
}

// expectEOF waits until the client closes the connection.
func (s *serverConn) expectEOF() {
	s.t.Helper()
	if line, err := s.readLine(); err == nil {
		s.fatalf("got %q, want the connection closed", line)
	}
}

// startTLS runs the server side of the handshake after STLS's +OK.
func (s *serverConn) startTLS(cfg *tls.Config) {
	s.t.Helper()
	tc := tls.Server(s.conn, cfg)
	if err := tc.Handshake(); err != nil {
		s.fatalf("TLS handshake: %v", err)
	}
	s.conn = tc
	s.br = bufio.NewReader(tc)
}

// startServer runs script for the one client that connects and returns that
// client's connection. Cleanup closes it and waits for the script to end.
func startServer(t testing.TB, script func(s *serverConn)) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			t.Errorf("fake server: accept: %v", err)
			return
		}
		defer conn.Close()
		// A bound on a stuck test, not a timing assertion: a script
		// waiting for a client that never writes fails instead of hanging.
		conn.SetDeadline(time.Now().Add(2 * time.Minute))
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(abortScript); !ok {
					panic(r)
				}
			}
		}()
		script(&serverConn{t: t, conn: conn, br: bufio.NewReader(conn)})
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return conn
}

// dialScript starts a scripted server and a Client on it.
func dialScript(t testing.TB, opt Options, script func(s *serverConn)) *Client {
	t.Helper()
	c, err := NewClient(startServer(t, script), opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mailbox is a small but complete POP3 server over a list of messages, for
// tests that need a real exchange rather than a script: pipelining, many
// messages. Messages are given with LF line endings and sent with lineEnd.
type mailbox struct {
	msgs    []string
	caps    []string
	lineEnd string // "\r\n" (default) or "\n" for a bare-LF server
	// requireAhead makes the first RETR or DELE wait, unanswered, until
	// that many commands have arrived: it proves pipelining without timing.
	requireAhead int
	noUIDL       bool           // refuse UIDL, as RFC 1939 allows
	retrErr      map[int]string // a reply to send instead of message n
	deleErr      map[int]string
	cutRetr      int // close the connection halfway through message n

	mu      sync.Mutex
	log     []string // commands received
	deleted map[int]bool
}

func (m *mailbox) commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

// stuff renders message text as a multi-line reply body: byte-stuffed,
// lineEnd line endings, terminated.
func stuff(msg, lineEnd string) string {
	var b strings.Builder
	lines := strings.SplitAfter(msg, "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		l = strings.TrimSuffix(l, "\n")
		if strings.HasPrefix(l, ".") {
			b.WriteString(".")
		}
		b.WriteString(l)
		b.WriteString(lineEnd)
	}
	b.WriteString("." + lineEnd)
	return b.String()
}

func (m *mailbox) serve(s *serverConn) {
	eol := m.lineEnd
	if eol == "" {
		eol = "\r\n"
	}
	s.quietWrites = true
	ok := func(text string) { s.send("+OK", text, eol) }
	s.send("+OK fake POP3 ready <1.2@127.0.0.1>", eol)
	waited := false
	for {
		line, err := s.readLine()
		var ne net.Error
		if errors.Is(err, io.EOF) || errors.As(err, &ne) {
			return // the client went away, perhaps in the middle of things
		}
		if err != nil {
			s.fatalf("%v", err)
		}
		m.mu.Lock()
		m.log = append(m.log, line)
		m.mu.Unlock()
		cmd, arg, _ := strings.Cut(line, " ")
		first, _, _ := strings.Cut(arg, " ")
		n, _ := strconv.Atoi(first)
		if (cmd == "RETR" || cmd == "TOP" || cmd == "DELE" || line == "UIDL") && m.requireAhead > 1 && !waited {
			waited = true
			for bytes.Count(peekBuffered(s), []byte("\n")) < m.requireAhead-1 {
				if _, err := s.br.Peek(s.br.Buffered() + 1); err != nil {
					s.fatalf("waiting for %d pipelined commands: %v", m.requireAhead, err)
				}
			}
		}
		valid := n >= 1 && n <= len(m.msgs) && !m.deleted[n]
		switch cmd {
		case "CAPA":
			if m.caps == nil {
				s.send("-ERR unknown command", eol)
				continue
			}
			s.send("+OK", eol, strings.Join(m.caps, eol), eol, ".", eol)
		case "USER", "PASS", "NOOP":
			ok("")
		case "RSET":
			m.mu.Lock()
			m.deleted = nil
			m.mu.Unlock()
			ok("")
		case "STAT":
			var size int
			count := 0
			for i, msg := range m.msgs {
				if !m.deleted[i+1] {
					count++
					size += len(msg)
				}
			}
			ok(fmt.Sprintf(" %d %d", count, size))
		case "LIST", "UIDL":
			if cmd == "UIDL" && m.noUIDL {
				s.send("-ERR no UIDL here", eol)
				continue
			}
			if arg != "" {
				switch {
				case !valid:
					s.send("-ERR no such message", eol)
				case cmd == "LIST":
					ok(fmt.Sprintf(" %d %d", n, len(m.msgs[n-1])))
				default:
					ok(fmt.Sprintf(" %d uid-%04d", n, n))
				}
				continue
			}
			var b strings.Builder
			for i, msg := range m.msgs {
				if m.deleted[i+1] {
					continue
				}
				if cmd == "LIST" {
					fmt.Fprintf(&b, "%d %d%s", i+1, len(msg), eol)
				} else {
					fmt.Fprintf(&b, "%d uid-%04d%s", i+1, i+1, eol)
				}
			}
			s.send("+OK", eol, b.String(), ".", eol)
		case "RETR", "TOP":
			if reply, bad := m.retrErr[n]; bad {
				s.send(reply, eol)
				continue
			}
			if !valid {
				s.send("-ERR no such message", eol)
				continue
			}
			body := stuff(m.msgs[n-1], eol)
			if n == m.cutRetr {
				// Half the message, then FIN. Reading on until the client
				// closes avoids the RST that unread pipelined commands
				// would cause, which could destroy replies not yet read.
				s.send("+OK", eol, body[:len(body)/2])
				s.conn.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, s.br)
				return
			}
			s.send("+OK", eol, body)
		case "DELE":
			if reply, bad := m.deleErr[n]; bad {
				s.send(reply, eol)
				continue
			}
			if !valid {
				s.send("-ERR no such message", eol)
				continue
			}
			m.mu.Lock()
			if m.deleted == nil {
				m.deleted = map[int]bool{}
			}
			m.deleted[n] = true
			m.mu.Unlock()
			ok("")
		case "QUIT":
			ok(" bye")
			return
		default:
			s.send("-ERR unknown command", eol)
		}
	}
}

func peekBuffered(s *serverConn) []byte {
	b, _ := s.br.Peek(s.br.Buffered())
	return b
}

// dialMailbox serves m and returns a Client on it.
func dialMailbox(t testing.TB, m *mailbox) *Client {
	t.Helper()
	return dialScript(t, Options{}, m.serve)
}

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts exactly that certificate.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pop3 test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return server, client
}
