package sync

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// fakeServer is a small scripted IMAP server for the faults a real server
// does not make on demand: FETCH data in an order go-imap cannot route, a
// missing UID. It speaks just enough IMAP4rev1 for a sync (LOGIN, LIST,
// STATUS, SELECT, UID SEARCH, UID FETCH, UID STORE), with no extension.
type fakeServer struct {
	t  *testing.T
	ln net.Listener

	mu          gosync.Mutex
	msgs        []*fakeMsg // INBOX
	uidValidity uint32
	// Faults.
	bodyBeforeUID bool            // BODY[] first in every FETCH with a body
	omitUID       map[uint32]bool // FETCH responses without UID for these
	// token, when set, is the OAuth2 token AUTHENTICATE XOAUTH2 and
	// OAUTHBEARER accept (offered with SASL-IR); LOGIN is then refused.
	token    string
	commands []string
	// selectFails: SELECT answers NO, leaving no mailbox selected.
	selectFails bool
	// holdSelect: SELECT is answered only once the next command has
	// arrived (or after 2 s, noted in selectNotPipelined).
	holdSelect, selectNotPipelined bool

	wg gosync.WaitGroup
}

type fakeMsg struct {
	uid   uint32
	flags []string
	body  []byte // as served: CRLF
}

func newFakeServer(t *testing.T, bodies [][]byte) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, ln: ln, uidValidity: 42, omitUID: map[uint32]bool{}}
	for i, b := range bodies {
		f.msgs = append(f.msgs, &fakeMsg{uid: uint32(i + 1), body: b})
	}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeServer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeServer) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			f.session(c)
		}()
	}
}

func (f *fakeServer) sawCommand(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.commands {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func (f *fakeServer) session(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	defer w.Flush()
	fmt.Fprintf(w, "* OK fake ready\r\n")
	w.Flush()
	selected := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		tag, rest, _ := strings.Cut(line, " ")
		cmd, args, _ := strings.Cut(rest, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "UID" {
			sub, a, _ := strings.Cut(args, " ")
			cmd, args = "UID "+strings.ToUpper(sub), a
		}
		f.mu.Lock()
		f.commands = append(f.commands, cmd+" "+args)
		f.mu.Unlock()
		switch cmd {
		case "CAPABILITY":
			caps := "IMAP4rev1"
			if f.token != "" {
				caps += " SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER LOGINDISABLED"
			}
			fmt.Fprintf(w, "* CAPABILITY %s\r\n%s OK done\r\n", caps, tag)
		case "AUTHENTICATE":
			mech, ir, _ := strings.Cut(args, " ")
			resp, _ := base64.StdEncoding.DecodeString(ir)
			want := map[string]string{
				"XOAUTH2":     "user=u\x01auth=Bearer " + f.token + "\x01\x01",
				"OAUTHBEARER": "n,a=u,\x01auth=Bearer " + f.token + "\x01\x01",
			}[strings.ToUpper(mech)]
			if f.token != "" && want != "" && string(resp) == want {
				fmt.Fprintf(w, "%s OK logged in\r\n", tag)
				break
			}
			// RFC 7628: an error challenge, answered by the client, then NO.
			fmt.Fprintf(w, "+ %s\r\n", base64.StdEncoding.EncodeToString([]byte(`{"status":"invalid_token"}`)))
			w.Flush()
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			fmt.Fprintf(w, "%s NO [AUTHENTICATIONFAILED] invalid token\r\n", tag)
		case "LOGIN":
			if f.token != "" {
				fmt.Fprintf(w, "%s NO LOGIN is disabled\r\n", tag)
				break
			}
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		case "NOOP", "UNSELECT", "CLOSE":
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		case "LOGOUT":
			fmt.Fprintf(w, "* BYE bye\r\n%s OK done\r\n", tag)
			return
		case "LIST":
			fmt.Fprintf(w, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
		case "STATUS":
			f.mu.Lock()
			fmt.Fprintf(w, "* STATUS INBOX (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)\r\n%s OK done\r\n", len(f.msgs), f.uidNext(), f.uidValidity, tag)
			f.mu.Unlock()
		case "SELECT", "EXAMINE":
			f.mu.Lock()
			fails, hold := f.selectFails, f.holdSelect
			f.mu.Unlock()
			if hold {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := r.Peek(1); err != nil {
					f.mu.Lock()
					f.selectNotPipelined = true
					f.mu.Unlock()
				}
				c.SetReadDeadline(time.Time{})
			}
			selected = !fails
			if fails {
				fmt.Fprintf(w, "%s NO [NONEXISTENT] no such mailbox\r\n", tag)
				break
			}
			f.mu.Lock()
			fmt.Fprintf(w, "* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n%s OK [READ-WRITE] done\r\n",
				len(f.msgs), f.uidValidity, f.uidNext(), tag)
			f.mu.Unlock()
		case "UID SEARCH":
			if !selected {
				fmt.Fprintf(w, "%s BAD no mailbox selected\r\n", tag)
				break
			}
			f.mu.Lock()
			var set []uidRange
			if i := strings.Index(strings.ToUpper(args), "UID "); i >= 0 {
				set = parseFakeSet(strings.Fields(args[i+4:])[0])
			}
			var uids []string
			for _, m := range f.msgs {
				if set == nil || inFakeSet(set, m.uid, f.uidNext()-1) {
					uids = append(uids, strconv.Itoa(int(m.uid)))
				}
			}
			f.mu.Unlock()
			fmt.Fprintf(w, "* SEARCH %s\r\n%s OK done\r\n", strings.Join(uids, " "), tag)
		case "UID FETCH":
			f.fetch(w, tag, args)
		case "UID STORE":
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		default:
			fmt.Fprintf(w, "%s BAD unknown command\r\n", tag)
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

func (f *fakeServer) uidNext() uint32 {
	if len(f.msgs) == 0 {
		return 1
	}
	return f.msgs[len(f.msgs)-1].uid + 1
}

func (f *fakeServer) fetch(w io.Writer, tag, args string) {
	setText, items, _ := strings.Cut(args, " ")
	set := parseFakeSet(setText)
	if set == nil {
		fmt.Fprintf(w, "%s BAD bad set\r\n", tag)
		return
	}
	items = strings.ToUpper(items)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.msgs {
		if !inFakeSet(set, m.uid, f.uidNext()-1) {
			continue
		}
		var parts []string
		if !f.omitUID[m.uid] {
			parts = append(parts, fmt.Sprintf("UID %d", m.uid))
		}
		if strings.Contains(items, "FLAGS") {
			parts = append(parts, "FLAGS ("+strings.Join(m.flags, " ")+")")
		}
		if strings.Contains(items, "INTERNALDATE") {
			parts = append(parts, `INTERNALDATE "01-Jan-2024 10:00:00 +0000"`)
		}
		if strings.Contains(items, "RFC822.SIZE") {
			parts = append(parts, fmt.Sprintf("RFC822.SIZE %d", len(m.body)))
		}
		if strings.Contains(items, "BODY.PEEK[]") {
			body := fmt.Sprintf("BODY[] {%d}\r\n%s", len(m.body), m.body)
			if f.bodyBeforeUID {
				parts = append([]string{body}, parts...)
			} else {
				parts = append(parts, body)
			}
		}
		fmt.Fprintf(w, "* %d FETCH (%s)\r\n", i+1, strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "%s OK done\r\n", tag)
}

type uidRange struct{ lo, hi uint32 } // hi 0: "*"

func parseFakeSet(s string) []uidRange {
	var out []uidRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil
		}
		r := uidRange{uint32(a), uint32(a)}
		if isRange {
			if hi == "*" {
				r.hi = 0
			} else if b, err := strconv.Atoi(hi); err == nil {
				r.hi = uint32(b)
			} else {
				return nil
			}
		}
		out = append(out, r)
	}
	return out
}

func inFakeSet(set []uidRange, uid, last uint32) bool {
	for _, r := range set {
		hi := r.hi
		if hi == 0 {
			hi = max(last, r.lo)
			// "n:*" with n above the last UID still means the last
			// message (RFC 3501 6.4.8): the trap the engine must filter.
			if uid == last {
				return true
			}
		}
		lo, hi := min(r.lo, hi), max(r.lo, hi)
		if uid >= lo && uid <= hi {
			return true
		}
	}
	return false
}
