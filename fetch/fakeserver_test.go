package fetch

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeServer is an in-process POP3 server on 127.0.0.1 for fault tests:
// it cuts connections where a test says, which a real server cannot be
// made to do. Dovecot stays the server for everything else.
//
// Like a real server, it deletes messages only when QUIT is received
// (RFC 1939 §6, the UPDATE state); a connection that ends otherwise rolls
// its DELEs back.
type fakeServer struct {
	t  testing.TB
	ln net.Listener

	mu   sync.Mutex
	msgs []fakeMsg // the maildrop; ID is the UIDL

	// Settings; set them through set() once the server runs.
	pipelining bool
	noUIDL     bool
	noTop      bool // refuse TOP, as RFC 1939 allows
	stls       bool // advertise STLS (the fake cannot actually do TLS)
	// utf8 advertises "UTF8 USER" (RFC 6856) and takes the UTF8 command
	// before login, as Courier does; utf8Refuse answers it -ERR.
	utf8       bool
	utf8Refuse bool

	// Faults: each is consulted per session and may be changed between
	// runs (under mu).
	cutRetr   int    // cut the connection after sending half of RETR of this msg number (0 off)
	cutAtQuit bool   // close without committing when QUIT arrives
	retrErr   int    // answer -ERR to RETR of this message number
	passReply string // when set, the reply to PASS (a -ERR with a code)
	sessions  int
	commands  []string // every command received, across sessions
	wg        sync.WaitGroup
}

type fakeMsg struct {
	UIDL string
	Raw  []byte // LF line ends, as it should land in the Maildir
	// Stub, when set, is served instead of Raw to a session that did not
	// send UTF8: Courier's "Cannot display Unicode content" stand-in for
	// a message whose header has raw UTF-8.
	Stub []byte
}

func newFakeServer(t testing.TB, msgs []fakeMsg) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, msgs: msgs, pipelining: true}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) addr() (string, int) {
	a := s.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func (s *fakeServer) remaining() []fakeMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fakeMsg(nil), s.msgs...)
}

// cmds returns the commands received so far and forgets them.
func (s *fakeServer) cmds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commands
	s.commands = nil
	return c
}

func (s *fakeServer) set(fn func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *fakeServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.session(c)
		}()
	}
}

// wireBody renders a message as POP3 sends it: CRLF line ends, dot-stuffed.
func wireBody(raw []byte) []byte {
	var b bytes.Buffer
	lines := bytes.SplitAfter(raw, []byte("\n"))
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		if l[0] == '.' {
			b.WriteByte('.')
		}
		if bytes.HasSuffix(l, []byte("\n")) {
			b.Write(l[:len(l)-1])
			b.WriteString("\r\n")
		} else {
			b.Write(l)
			b.WriteString("\r\n")
		}
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

func (s *fakeServer) session(c net.Conn) {
	s.mu.Lock()
	s.sessions++
	msgs := append([]fakeMsg(nil), s.msgs...) // this session's view
	cutRetr, cutAtQuit, retrErr := s.cutRetr, s.cutAtQuit, s.retrErr
	pipelining, noUIDL, noTop, stls, passReply := s.pipelining, s.noUIDL, s.noTop, s.stls, s.passReply
	utf8, utf8Refuse := s.utf8, s.utf8Refuse
	s.mu.Unlock()
	deleted := map[int]bool{}
	utf8On := false
	// served is what this session gets for message n (1-based).
	served := func(n int) []byte {
		if m := msgs[n-1]; m.Stub != nil && !utf8On {
			return m.Stub
		}
		return msgs[n-1].Raw
	}
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
	}
	reply("+OK fake POP3 ready <1.2@fake>")
	w.Flush()
	authed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		num := func() (int, bool) {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 1 || n > len(msgs) || deleted[n] {
				reply("-ERR no such message")
				return 0, false
			}
			return n, true
		}
		switch verb {
		case "CAPA":
			reply("+OK")
			reply("USER")
			if !noTop {
				reply("TOP")
			}
			if !noUIDL {
				reply("UIDL")
			}
			if pipelining {
				reply("PIPELINING")
			}
			if stls {
				reply("STLS")
			}
			if utf8 {
				reply("UTF8 USER")
			}
			reply(".")
		case "UTF8":
			switch {
			case !utf8:
				reply("-ERR unknown command")
			case authed:
				reply("-ERR UTF8 is valid only before login")
			case utf8Refuse:
				reply("-ERR [SYS/PERM] UTF8 not available")
			default:
				utf8On = true
				reply("+OK UTF8 enabled")
			}
		case "USER":
			reply("+OK")
		case "PASS":
			if passReply != "" {
				reply("%s", passReply)
			} else if arg == "secret" {
				authed = true
				reply("+OK logged in")
			} else {
				reply("-ERR [AUTH] bad password")
			}
		case "STAT":
			var size int
			for i := range msgs {
				if !deleted[i+1] {
					size += len(wireBody(served(i+1))) - 3
				}
			}
			reply("+OK %d %d", len(msgs)-len(deleted), size)
		case "LIST":
			reply("+OK")
			for i := range msgs {
				if !deleted[i+1] {
					reply("%d %d", i+1, len(wireBody(served(i+1)))-3)
				}
			}
			reply(".")
		case "UIDL":
			if noUIDL {
				reply("-ERR no UIDL here")
				break
			}
			if arg != "" {
				if n, ok := num(); ok {
					reply("+OK %d %s", n, msgs[n-1].UIDL)
				}
				break
			}
			reply("+OK")
			for i, m := range msgs {
				if !deleted[i+1] {
					reply("%d %s", i+1, m.UIDL)
				}
			}
			reply(".")
		case "RETR":
			n, ok := num()
			if !ok {
				break
			}
			if n == retrErr {
				reply("-ERR [SYS/PERM] cannot read message %d", n)
				break
			}
			body := wireBody(served(n))
			reply("+OK %d octets", len(body)-3)
			if n == cutRetr {
				w.Write(body[:len(body)/2])
				w.Flush()
				return
			}
			w.Write(body)
		case "TOP":
			// The header, the blank line, and the first lines of the body.
			if noTop {
				reply("-ERR unknown command")
				break
			}
			a, b, _ := strings.Cut(arg, " ")
			lines, err := strconv.Atoi(b)
			arg = a
			n, ok := num()
			if !ok || err != nil || lines < 0 {
				break
			}
			raw := served(n)
			head, body, _ := bytes.Cut(raw, []byte("\n\n"))
			part := append(append([]byte{}, head...), "\n\n"...)
			for i, l := range bytes.SplitAfter(body, []byte("\n")) {
				if i == lines {
					break
				}
				part = append(part, l...)
			}
			reply("+OK")
			w.Write(wireBody(part))
		case "DELE":
			if n, ok := num(); ok {
				deleted[n] = true
				reply("+OK deleted")
			}
		case "NOOP":
			reply("+OK")
		case "RSET":
			deleted = map[int]bool{}
			reply("+OK")
		case "QUIT":
			if cutAtQuit {
				return // the connection dies: the server rolls back
			}
			if authed {
				s.mu.Lock()
				var keep []fakeMsg
				gone := map[string]bool{}
				for i := range msgs {
					if deleted[i+1] {
						gone[msgs[i].UIDL+"\x00"+string(msgs[i].Raw)] = true
					}
				}
				for _, m := range s.msgs {
					if !gone[m.UIDL+"\x00"+string(m.Raw)] {
						keep = append(keep, m)
					}
				}
				s.msgs = keep
				s.mu.Unlock()
			}
			reply("+OK bye")
			w.Flush()
			return
		default:
			reply("-ERR unknown command")
		}
		// Without PIPELINING a client must wait for each reply anyway;
		// with it, replies may go out in batches.
		if r.Buffered() == 0 || !pipelining {
			w.Flush()
		}
	}
}
