package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/mutf7"
)

// streamConn is a net.Conn over a reader (the server's bytes) that
// records what is written.
type streamConn struct {
	r       io.Reader
	written bytes.Buffer
	closed  bool
}

func (c *streamConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *streamConn) Close() error                     { c.closed = true; return nil }
func (c *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// filterServer runs the server's stream in through a wire, read in the
// way chunk says (0 whole, 1 one byte at a time, 2 halves), and returns
// what go-imap would see.
func filterServer(t testing.TB, in string, utf8 bool, chunk int) (string, *Filter, error) {
	t.Helper()
	var r io.Reader = strings.NewReader(in)
	switch chunk {
	case 1:
		r = iotest.OneByteReader(r)
	case 2:
		r = iotest.HalfReader(r)
	}
	w := New(&streamConn{r: r}, "127.0.0.1:993")
	w.token = "0" // the same placeholders whatever the chunking
	w.utf8.Store(utf8)
	var out bytes.Buffer
	buf := make([]byte, 7) // small reads, as a stress
	if chunk == 0 {
		buf = make([]byte, 4096)
	}
	for {
		n, err := w.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), w, nil
		}
		if err != nil {
			return out.String(), w, err
		}
	}
}

// Everything that is not a mailbox name of a LIST, LSUB or STATUS
// response passes unchanged: above all, the literals (message bodies),
// even when they hold lines that look like responses with names that do
// not decode; and the text of status responses, which go-imap reads to
// the end of the line even when it ends like a literal announcement.
func TestWirePassesThrough(t *testing.T) {
	body := "From: a\r\n\r\n* LIST () \"/\" \"Bad&Jjo\"\r\n* STATUS {3}\r\nA\rB (MESSAGES 1)\r\n"
	in := "* OK [CAPABILITY IMAP4rev1] hi\r\n" +
		"* OK text that ends like {20}\r\n" +
		"* LIST () \"/\" Good\r\n" +
		"T1 OK [ALERT] done {5}\r\n" +
		"+ go on {3}\r\n" +
		"* 1 FETCH (UID 5 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " FLAGS (\\Seen))\r\n" +
		"* 2 FETCH (BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " UID 6 FLAGS (\\Seen))\r\n" +
		"* 3 FETCH (BINARY[] ~{3}\r\n{9}\r\n)\r\n" +
		"* 4 FETCH (ENVELOPE (\"d\" \"a \\\"{5}\r\n\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n" +
		"* OK [UNKNOWN-CODE spans\r\n* LIST () \"/\" Bad&Jjo\r\n] end\r\n" +
		"* STATUS \"Entw&APw-rfe\" (MESSAGES 3)\r\n" +
		"* LSUB () NIL {5}\r\nINBOX\r\n" +
		"* LIST (\\Noselect \\HasChildren) \".\" INBOX\r\n"
	for chunk := range 3 {
		out, _, err := filterServer(t, in, false, chunk)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if out != in {
			t.Errorf("chunk %d: changed:\n%q\nwant\n%q", chunk, out, in)
		}
	}
}

// A name that go-imap would refuse becomes a placeholder that maps back
// to its raw bytes; the same raw name always gets the same placeholder
// (LIST-STATUS pairs STATUS with LIST by name).
func TestWireReplacesUndecodableNames(t *testing.T) {
	in := "* OK hi\r\n" +
		"* LIST () \"/\" \"Bad&Jjo\"\r\n" +
		"* STATUS \"Bad&Jjo\" (MESSAGES 2)\r\n" +
		"* LIST (\\HasNoChildren) \"/\" {11}\r\nYandex\r\nBox (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n" +
		"* LIST () NIL Latin\xffName\r\n" +
		"* LIST () \"/\" \"Nul\x00\"\r\n" +
		"* LSUB () \"/\" &AOQ\r\n" +
		"* 7 LIST () \"/\" \"Tab\there\"\r\n" +
		"* LIST () \"/\" \"Fine\"\r\n" +
		"* LIST () \"/\" {4}\r\nFine\r\n" +
		"T3 OK done\r\n"
	for chunk := range 3 {
		out, w, err := filterServer(t, in, false, chunk)
		if err != nil {
			t.Fatal(err)
		}
		ph := func(raw string) string {
			w.mu.Lock()
			p := w.byRaw[raw]
			w.mu.Unlock()
			if p == "" {
				t.Fatalf("no placeholder for %q in\n%q", raw, out)
			}
			if back, ok := w.Undecodable(p); !ok || back != raw {
				t.Errorf("placeholder %q maps to %q", p, back)
			}
			return `"` + p + `"`
		}
		want := "* OK hi\r\n" +
			"* LIST () \"/\" " + ph("Bad&Jjo") + "\r\n" +
			"* STATUS " + ph("Bad&Jjo") + " (MESSAGES 2)\r\n" +
			"* LIST (\\HasNoChildren) \"/\" " + ph("Yandex\r\nBox") + " (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n" +
			"* LIST () NIL " + ph("Latin\xffName") + "\r\n" +
			"* LIST () \"/\" " + ph("Nul\x00") + "\r\n" +
			"* LSUB () \"/\" " + ph("&AOQ") + "\r\n" +
			"* 7 LIST () \"/\" " + ph("Tab\there") + "\r\n" +
			"* LIST () \"/\" \"Fine\"\r\n" +
			"* LIST () \"/\" {4}\r\nFine\r\n" +
			"T3 OK done\r\n"
		if out != want {
			t.Errorf("chunk %d:\n%q\nwant\n%q", chunk, out, want)
		}
	}
}

// With UTF8=ACCEPT, names are raw UTF-8: a '&' is escaped for go-imap,
// which reads it as modified UTF-7 in any mode; control characters and
// invalid UTF-8 are still refused.
func TestWireUTF8Names(t *testing.T) {
	in := "* OK hi\r\n" +
		"* LIST () \"/\" \"R&D\"\r\n" +
		"* LIST () \"/\" \"Entwürfe\"\r\n" +
		"* STATUS \"a\\\"&b\" (MESSAGES 2)\r\n" +
		"* LIST () \"/\" \"Bad\xff\"\r\n" +
		"* LIST () \"/\" \"Entw&APw-rfe\"\r\n"
	out, w, err := filterServer(t, in, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	bad := w.byRaw["Bad\xff"]
	w.mu.Unlock()
	want := "* OK hi\r\n" +
		"* LIST () \"/\" \"R&-D\"\r\n" +
		"* LIST () \"/\" \"Entwürfe\"\r\n" +
		"* STATUS \"a\\\"&-b\" (MESSAGES 2)\r\n" +
		"* LIST () \"/\" \"" + bad + "\"\r\n" +
		"* LIST () \"/\" \"Entw&-APw-rfe\"\r\n"
	if bad == "" || out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

// The first line must be an IMAP greeting; another protocol's is named.
func TestWireGreeting(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+OK Dovecot ready.\r\n", "answered like a POP3 server"},
		{"-ERR go away\r\n", "answered like a POP3 server"},
		{"220 mx.example.org ESMTP\r\n", "answered like an SMTP server"},
		{"SSH-2.0-OpenSSH_9.2\r\n", "did not greet like an IMAP server"},
		{strings.Repeat("x", 2000), "did not greet like an IMAP server"},
	} {
		out, _, err := filterServer(t, c.in, false, 2)
		if err == nil || out != "" {
			t.Errorf("%q: %q, %v; want an error and nothing passed on", c.in, out, err)
			continue
		}
		if failure.KindOf(err) != failure.Protocol || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "993") {
			t.Errorf("%q: %v (%v), want a protocol error saying %q and what IMAP's ports are", c.in, err, failure.KindOf(err), c.want)
		}
	}
	for _, g := range []string{"* OK ready\r\n", "* PREAUTH hi\r\n", "* BYE busy\r\n", "* ok [CAPABILITY IMAP4rev1] x\r\n"} {
		if out, _, err := filterServer(t, g, false, 1); err != nil || out != g {
			t.Errorf("%q: %q, %v", g, out, err)
		}
	}
}

// Outbound, the mailbox of SELECT, EXAMINE and STATUS is what the server
// expects; literals (a password) and every other command pass as they are.
func TestWireOutbound(t *testing.T) {
	secret := "T9 SELECT \"X&-Y\"\r\nabc"
	login := "T1 LOGIN u {" + strconv.Itoa(len(secret)) + "}\r\n" + secret + "\r\n"
	in := login +
		"T2 SELECT \"R&-D\" (CONDSTORE)\r\n" +
		"T3 STATUS \"Entwürfe/&-\" (MESSAGES UIDNEXT)\r\n" +
		"T4 EXAMINE INBOX\r\n" +
		"T5 UID FETCH 1:* (UID)\r\n" +
		"T6 LIST \"\" \"*\"\r\n" +
		"T7 select \"a\\\"&-b\"\r\n" +
		"DONE\r\n"
	for _, c := range []struct {
		mode OutMode
		want string
	}{
		{OutUTF8, login +
			"T2 SELECT \"R&D\" (CONDSTORE)\r\n" +
			"T3 STATUS \"Entwürfe/&\" (MESSAGES UIDNEXT)\r\n" +
			"T4 EXAMINE INBOX\r\n" +
			"T5 UID FETCH 1:* (UID)\r\n" +
			"T6 LIST \"\" \"*\"\r\n" +
			"T7 select \"a\\\"&b\"\r\n" +
			"DONE\r\n"},
		{OutMUTF7, login +
			"T2 SELECT \"R&-D\" (CONDSTORE)\r\n" +
			"T3 STATUS \"Entw&APw-rfe/&-\" (MESSAGES UIDNEXT)\r\n" +
			"T4 EXAMINE INBOX\r\n" +
			"T5 UID FETCH 1:* (UID)\r\n" +
			"T6 LIST \"\" \"*\"\r\n" +
			"T7 select \"a\\\"&-b\"\r\n" +
			"DONE\r\n"},
		{OutPlain, in},
	} {
		for _, size := range []int{1, 3, 1 << 10} {
			sc := &streamConn{r: strings.NewReader("")}
			w := New(sc, "x:1")
			w.SetOutMode(c.mode)
			for p := in; p != ""; {
				n := min(size, len(p))
				if m, err := w.Write([]byte(p[:n])); err != nil || m != n {
					t.Fatalf("Write: %d, %v", m, err)
				}
				p = p[n:]
			}
			if got := sc.written.String(); got != c.want {
				t.Errorf("mode %d, writes of %d: got\n%q\nwant\n%q", c.mode, size, got, c.want)
			}
		}
	}
}

func TestClientLiteral(t *testing.T) {
	for tail, want := range map[string]int64{"{5}\r": 5, "x {12+}\r": 12, "{0}\r": 0, "}\r": -1, "{}\r": -1, "{5a}\r": -1, "{99999999999999999999}\r": -1} {
		n, ok := clientLiteral([]byte(tail))
		if (want < 0) == ok || ok && n != want {
			t.Errorf("clientLiteral(%q) = %d, %v", tail, n, ok)
		}
	}
}

// mailboxNameCases reads the mailbox names of internal/mutf7's testdata
// (the names mutf7.Decode is checked against): raw name and its decoding,
// ok false when go-imap refuses it.
func mailboxNameCases(t testing.TB) []struct {
	raw, dec string
	ok       bool
} {
	var out []struct {
		raw, dec string
		ok       bool
	}
	for _, l := range testdataLines(t, filepath.Join("..", "..", "mutf7", "testdata", "mailbox-names.txt")) {
		a, b, _ := strings.Cut(l, "\t")
		raw, err := strconv.Unquote(a)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		c := struct {
			raw, dec string
			ok       bool
		}{raw: raw}
		if b != "-" {
			if c.dec, err = strconv.Unquote(b); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			c.ok = true
		}
		out = append(out, c)
	}
	return out
}

// The names of the testdata decode as go-imap decodes them (mutf7 keeps
// its own copy of this test; here it runs with the wire's idea of a name
// go-imap takes in UTF-8), and a name's display spells every byte.
func TestDecodeMUTF7(t *testing.T) {
	for _, c := range mailboxNameCases(t) {
		got, ok := mutf7.Decode(c.raw)
		if strings.EqualFold(c.raw, "INBOX") {
			continue
		}
		if ok != c.ok || got != c.dec {
			t.Errorf("mutf7.Decode(%q) = %q, %v; want %q, %v", c.raw, got, ok, c.dec, c.ok)
		}
		if ok && utf8NameOK(got) {
			if back, ok := mutf7.Decode(mutf7.Encode(got)); !ok || back != got {
				t.Errorf("mutf7.Encode(%q) = %q does not decode back", got, mutf7.Encode(got))
			}
		}
	}
	if d := DisplayName("A\r\nB\\\xff&"); d != `A\x0d\x0aB\x5c\xff&` {
		t.Errorf("DisplayName = %q", d)
	}
}

// testdataLines returns the non-comment lines of a file.
func testdataLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// scriptedList runs a real imapclient over a pipe against a server that
// answers LIST with the given response lines, with or without the wire
// between them, and returns what List collected.
func scriptedList(t testing.TB, lines string, withWire, utf8 bool) ([]*imap.ListData, *Filter, error) {
	cli, srv := net.Pipe()
	defer cli.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer srv.Close()
		br := bufio.NewReader(srv)
		if _, err := io.WriteString(srv, "* OK ready\r\n"); err != nil {
			return
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(line, " ")
			switch {
			case strings.HasPrefix(cmd, "CAPABILITY"):
				_, err = io.WriteString(srv, "* CAPABILITY IMAP4rev1\r\n"+tag+" OK done\r\n")
			case strings.HasPrefix(cmd, "LIST"):
				_, err = io.WriteString(srv, lines+tag+" OK done\r\n")
			default:
				_, err = io.WriteString(srv, tag+" BAD unexpected\r\n")
			}
			if err != nil {
				return
			}
		}
	}()
	var nc net.Conn = cli
	var w *Filter
	if withWire {
		w = New(cli, "127.0.0.1:143")
		w.utf8.Store(utf8)
		nc = w
	}
	c := imapclient.New(nc, nil)
	defer func() {
		c.Close()
		<-done
	}()
	if err := c.WaitGreeting(); err != nil {
		return nil, w, err
	}
	l, err := c.List("", "*", nil).Collect()
	return l, w, err
}

// FuzzWireListName: whatever bytes a server sends as a mailbox name, the
// LIST goes through go-imap with the wire, and the name comes out as go-
// imap decodes it when it can, else as a placeholder for its raw bytes;
// a placeholder only where go-imap alone fails on the name.
func FuzzWireListName(f *testing.F) {
	for _, c := range mailboxNameCases(f) {
		f.Add(c.raw, false)
		f.Add(c.raw, true)
	}
	f.Fuzz(func(t *testing.T, raw string, utf8 bool) {
		if len(raw) > 1000 {
			return
		}
		lines := fmt.Sprintf("* LIST () \"/\" {%d}\r\n%s\r\n* LIST () \"/\" Good\r\n", len(raw), raw)
		got, w, err := scriptedList(t, lines, true, utf8)
		if err != nil || len(got) != 2 || got[1].Mailbox != "Good" {
			t.Fatalf("LIST of %q through the wire: %v, %v", raw, got, err)
		}
		name := got[0].Mailbox
		back, isPlaceholder := w.Undecodable(name)
		switch {
		case isPlaceholder:
			if back != raw {
				t.Fatalf("placeholder of %q maps to %q", raw, back)
			}
		case strings.EqualFold(raw, "INBOX"):
			if name != "INBOX" {
				t.Fatalf("%q came out as %q", raw, name)
			}
		case utf8:
			if name != raw {
				t.Fatalf("UTF-8 name %q came out as %q", raw, name)
			}
		default:
			if d, ok := mutf7.Decode(raw); !ok || d != name {
				t.Fatalf("%q came out as %q; mutf7.Decode says %q, %v", raw, name, d, ok)
			}
		}
		if isPlaceholder && !utf8 {
			// go-imap alone must fail on it (else the folder was lost for
			// nothing).
			alone, _, err := scriptedList(t, lines, false, false)
			if err == nil && len(alone) == 2 {
				t.Fatalf("%q replaced, but go-imap decodes it as %q", raw, alone[0].Mailbox)
			}
		}
	})
}

// FuzzWire: the filter is a function of the stream, not of how it is cut
// into reads; a stream without LIST, LSUB or STATUS passes unchanged;
// and it never holds more than it may.
func FuzzWire(f *testing.F) {
	f.Add("* OK hi\r\n* LIST () \"/\" \"Bad&Jjo\"\r\n* 1 FETCH (BODY[] {3}\r\nabc)\r\n", false)
	f.Add("* OK hi\r\n* STATUS {5}\r\nA\r\nB\r (MESSAGES 1)\r\nT1 OK x\r\n", true)
	f.Add("* OK [CAPABILITY IMAP4rev1] hi\r\n* 3 FETCH (UID 3 BODY[] {12}\r\n* LIST () x\r\n)\r\n", false)
	f.Add("+OK POP3\r\n", false)
	f.Fuzz(func(t *testing.T, in string, utf8 bool) {
		whole, w0, err0 := filterServer(t, in, utf8, 0)
		for chunk := 1; chunk <= 2; chunk++ {
			out, _, err := filterServer(t, in, utf8, chunk)
			if out != whole || (err == nil) != (err0 == nil) {
				t.Fatalf("chunking %d changed the result:\n%q, %v\n%q, %v", chunk, out, err, whole, err0)
			}
		}
		up := strings.ToUpper(in)
		if err0 == nil && !strings.Contains(up, "LIST") && !strings.Contains(up, "LSUB") && !strings.Contains(up, "STATUS") && whole != in {
			t.Fatalf("a stream without names changed:\n%q\n%q", in, whole)
		}
		if len(w0.hold) > 512 || len(w0.name.wire) > maxWireName+32 {
			t.Fatalf("holds %d + %d bytes", len(w0.hold), len(w0.name.wire))
		}
	})
}

// FuzzWireBodies: a message body, and the text of a status response, are
// never rewritten, whatever they hold (here: responses with names that do
// not decode), and the responses after them are still read as responses.
func FuzzWireBodies(f *testing.F) {
	f.Add("* LIST () \"/\" \"Bad&Jjo\"\r\n", "text {5}", "Bad&Jjo")
	f.Add("\r\n* STATUS {3}\r\na\rb (MESSAGES 1)\r\n* 2 FETCH (BODY[] {99}\r\n", "[ALERT] x", "\xff")
	f.Add("\"", "[UNTERMINATED", "&")
	f.Fuzz(func(t *testing.T, body, text, bad string) {
		text = strings.NewReplacer("\r", "", "\n", "").Replace(text)
		if _, ok := mutf7.Decode(bad); ok || len(bad) > 100 {
			return
		}
		in := "* OK hi\r\n" +
			"* 1 FETCH (UID 1 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " FLAGS ())\r\n" +
			"* 2 FETCH (BODY[HEADER] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " UID 2)\r\n" +
			"* OK " + text + "\r\n" +
			"T1 NO " + text + "\r\n"
		tail := fmt.Sprintf("* LIST () \"/\" {%d}\r\n%s\r\n", len(bad), bad)
		// A response code starts right after "OK "; one left open runs on
		// to a ']' as go-imap reads it.
		open := strings.HasPrefix(text, "[") && !strings.Contains(text, "]")
		if open && strings.Contains(bad, "]") {
			return
		}
		for chunk := range 3 {
			out, w, err := filterServer(t, in+tail, false, chunk)
			if err != nil {
				t.Fatal(err)
			}
			// An unterminated response code runs on to a ']' as go-imap
			// reads it: then nothing after it is a response. Otherwise the
			// LIST after the bodies is read as one.
			want := in + tail
			if !open {
				w.mu.Lock()
				p := w.byRaw[bad]
				w.mu.Unlock()
				want = in + "* LIST () \"/\" \"" + p + "\"\r\n"
			}
			if out != want {
				t.Fatalf("got\n%q\nwant\n%q", out, want)
			}
		}
	})
}

// The literal fast path reads a body straight into go-imap's buffer:
// filtering costs nothing per byte of a message.
func BenchmarkWireBody(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 1<<14) // 1 MiB
	var stream bytes.Buffer
	stream.WriteString("* OK hi\r\n")
	for i := range 8 {
		fmt.Fprintf(&stream, "* %d FETCH (UID %d FLAGS (\\Seen) BODY[] {%d}\r\n", i+1, i+1, len(body))
		stream.Write(body)
		stream.WriteString(")\r\n")
	}
	b.SetBytes(int64(stream.Len()))
	buf := make([]byte, 32<<10)
	for b.Loop() {
		w := New(&streamConn{r: bytes.NewReader(stream.Bytes())}, "x:1")
		for {
			_, err := w.Read(buf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
