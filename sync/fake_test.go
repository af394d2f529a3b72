package sync

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

// fakeServer is a small scripted IMAP server for the faults a real server
// does not make on demand: FETCH data in an order go-imap cannot route, a
// missing UID, mailbox names that do not decode. It speaks just enough
// IMAP4rev1 for a sync (LOGIN, LIST, STATUS, SELECT, UID SEARCH, FETCH and
// UID FETCH, UID STORE), with no extension unless caps adds one (ENABLE
// UTF8=ACCEPT and NAMESPACE are understood).
type fakeServer struct {
	t  *testing.T
	ln net.Listener

	mu          gosync.Mutex
	msgs        []*fakeMsg // INBOX
	uidValidity uint32
	// folders are listed after INBOX, in this order.
	folders []*fakeFolder
	// caps are announced after IMAP4rev1.
	caps string
	// namespace is the NAMESPACE response's data ("" answers BAD).
	namespace string
	// selects are the mailbox arguments of SELECT and EXAMINE, unquoted.
	selects []string
	// Faults.
	bodyBeforeUID bool            // BODY[] first in every FETCH with a body
	omitUID       map[uint32]bool // FETCH responses without UID for these
	omitBodyUID   map[uint32]bool // the same, in responses with a body only
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

// fakeFolder is a folder besides INBOX.
type fakeFolder struct {
	list     string   // what follows `* LIST () "/" ` for it, as sent
	listUTF8 string   // the same once UTF8=ACCEPT is enabled; "" is list
	names    []string // the unquoted names SELECT and STATUS know it by
	msgs     []*fakeMsg
}

// addFolder adds a folder with the given messages.
func (f *fakeServer) addFolder(list string, names []string, bodies [][]byte) *fakeFolder {
	ff := &fakeFolder{list: list, names: names}
	for i, b := range bodies {
		ff.msgs = append(ff.msgs, &fakeMsg{uid: uint32(i + 1), body: b})
	}
	f.mu.Lock()
	f.folders = append(f.folders, ff)
	f.mu.Unlock()
	return ff
}

// box returns the messages of the folder a client names name, or false.
// Called with f.mu held.
func (f *fakeServer) box(name string) (*[]*fakeMsg, bool) {
	if strings.EqualFold(name, "INBOX") {
		return &f.msgs, true
	}
	for _, ff := range f.folders {
		if slices.Contains(ff.names, name) {
			return &ff.msgs, true
		}
	}
	return nil, false
}

// unquote reads the first argument of a command: a quoted string or an
// atom, and returns it and what follows.
func unquote(args string) (string, string) {
	if !strings.HasPrefix(args, `"`) {
		a, rest, _ := strings.Cut(args, " ")
		return a, rest
	}
	var b strings.Builder
	for i := 1; i < len(args); i++ {
		switch c := args[i]; c {
		case '\\':
			i++
			if i < len(args) {
				b.WriteByte(args[i])
			}
		case '"':
			return b.String(), strings.TrimPrefix(args[i+1:], " ")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

func newFakeServer(t *testing.T, bodies [][]byte) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, ln: ln, uidValidity: 42, omitUID: map[uint32]bool{}, omitBodyUID: map[uint32]bool{}}
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
	utf8 := false
	var box *[]*fakeMsg
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
			f.mu.Lock()
			if f.caps != "" {
				caps += " " + f.caps
			}
			f.mu.Unlock()
			fmt.Fprintf(w, "* CAPABILITY %s\r\n%s OK done\r\n", caps, tag)
		case "ENABLE":
			f.mu.Lock()
			offered := strings.Contains(f.caps, "UTF8=ACCEPT")
			f.mu.Unlock()
			if offered && strings.Contains(strings.ToUpper(args), "UTF8=ACCEPT") {
				utf8 = true
				fmt.Fprintf(w, "* ENABLED UTF8=ACCEPT\r\n")
			}
			fmt.Fprintf(w, "%s OK enabled\r\n", tag)
		case "NAMESPACE":
			f.mu.Lock()
			ns := f.namespace
			f.mu.Unlock()
			if ns == "" {
				fmt.Fprintf(w, "%s BAD unknown command\r\n", tag)
				break
			}
			fmt.Fprintf(w, "* NAMESPACE %s\r\n%s OK done\r\n", ns, tag)
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
			fmt.Fprintf(w, "* LIST () \"/\" INBOX\r\n")
			f.mu.Lock()
			for _, ff := range f.folders {
				l := ff.list
				if utf8 && ff.listUTF8 != "" {
					l = ff.listUTF8
				}
				fmt.Fprintf(w, "* LIST () \"/\" %s\r\n", l)
			}
			f.mu.Unlock()
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		case "STATUS":
			name, _ := unquote(args)
			f.mu.Lock()
			b, ok := f.box(name)
			if !ok {
				f.mu.Unlock()
				fmt.Fprintf(w, "%s NO [NONEXISTENT] no such mailbox\r\n", tag)
				break
			}
			fmt.Fprintf(w, "* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)\r\n%s OK done\r\n",
				strings.SplitN(args, " (", 2)[0], len(*b), uidNextOf(*b), f.uidValidity, tag)
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
			name, _ := unquote(args)
			f.mu.Lock()
			f.selects = append(f.selects, name)
			b, ok := f.box(name)
			f.mu.Unlock()
			selected = !fails && ok
			if !selected {
				fmt.Fprintf(w, "%s NO [NONEXISTENT] no such mailbox\r\n", tag)
				break
			}
			box = b
			f.mu.Lock()
			fmt.Fprintf(w, "* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n%s OK [READ-WRITE] done\r\n",
				len(*box), f.uidValidity, uidNextOf(*box), tag)
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
			for _, m := range *box {
				if set == nil || inFakeSet(set, m.uid, uidNextOf(*box)-1) {
					uids = append(uids, strconv.Itoa(int(m.uid)))
				}
			}
			f.mu.Unlock()
			fmt.Fprintf(w, "* SEARCH %s\r\n%s OK done\r\n", strings.Join(uids, " "), tag)
		case "UID FETCH", "FETCH":
			if !selected {
				fmt.Fprintf(w, "%s BAD no mailbox selected\r\n", tag)
				break
			}
			f.fetch(w, tag, args, *box, cmd == "UID FETCH")
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

func uidNextOf(msgs []*fakeMsg) uint32 {
	if len(msgs) == 0 {
		return 1
	}
	return msgs[len(msgs)-1].uid + 1
}

// fetch answers FETCH (byUID false: the set holds sequence numbers) and
// UID FETCH.
func (f *fakeServer) fetch(w io.Writer, tag, args string, msgs []*fakeMsg, byUID bool) {
	setText, items, _ := strings.Cut(args, " ")
	set := parseFakeSet(setText)
	if set == nil {
		fmt.Fprintf(w, "%s BAD bad set\r\n", tag)
		return
	}
	items = strings.ToUpper(items)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range msgs {
		if byUID && !inFakeSet(set, m.uid, uidNextOf(msgs)-1) || !byUID && !inFakeSet(set, uint32(i+1), uint32(len(msgs))) {
			continue
		}
		var parts []string
		withBody := strings.Contains(items, "BODY.PEEK[]")
		if !f.omitUID[m.uid] && !(withBody && f.omitBodyUID[m.uid]) && (byUID || strings.Contains(items, "UID")) {
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
		var body string
		switch {
		case strings.Contains(items, "BODY.PEEK[]"):
			body = fmt.Sprintf("BODY[] {%d}\r\n%s", len(m.body), m.body)
		case strings.Contains(items, "BODY.PEEK[HEADER]"):
			head, _, _ := strings.Cut(string(m.body), "\r\n\r\n")
			head += "\r\n\r\n"
			body = fmt.Sprintf("BODY[HEADER] {%d}\r\n%s", len(head), head)
		case strings.Contains(items, "BODY.PEEK[HEADER.FIELDS"):
			var fields string
			for _, line := range strings.SplitAfter(string(m.body), "\r\n") {
				if line == "\r\n" {
					break
				}
				if strings.HasPrefix(strings.ToLower(line), "message-id:") {
					fields += line
				}
			}
			fields += "\r\n"
			body = fmt.Sprintf("BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s", len(fields), fields)
		}
		if body != "" {
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
