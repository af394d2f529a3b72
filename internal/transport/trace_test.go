package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// A trace case (testdata/trace/*.txtar) has these files:
//
//	proto    the protocol given to NewTrace
//	wire     the conversation, one piece per line:
//	           "C: text" / "S: text"  text plus CRLF, from the client / server
//	           "C= quoted" / "S= quoted"  a Go-quoted string, sent as is
//	want     the expected trace
//	secrets  (optional) strings that must not appear in the trace, one a line
type traceCase struct {
	name    string
	proto   string
	wire    []piece
	want    string
	secrets []string
}

type piece struct {
	s    side
	data []byte
}

func loadTraceCases(tb testing.TB) []traceCase {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "trace", "*.txtar"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no trace cases: %v", err)
	}
	var cases []traceCase
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		c := traceCase{name: strings.TrimSuffix(filepath.Base(file), ".txtar")}
		for _, f := range ar.Files {
			switch f.Name {
			case "proto":
				c.proto = strings.TrimSpace(string(f.Data))
			case "wire":
				c.wire = parseWire(tb, file, string(f.Data))
			case "want":
				c.want = string(f.Data)
			case "secrets":
				for _, s := range strings.Split(string(f.Data), "\n") {
					if s != "" {
						c.secrets = append(c.secrets, s)
					}
				}
			default:
				tb.Fatalf("%s: unknown file %q", file, f.Name)
			}
		}
		cases = append(cases, c)
	}
	return cases
}

func parseWire(tb testing.TB, file, text string) []piece {
	var pieces []piece
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if len(line) < 3 || (line[0] != 'C' && line[0] != 'S') || (line[1] != ':' && line[1] != '=') || line[2] != ' ' {
			tb.Fatalf("%s: wire line %d: want \"C: \", \"S: \", \"C= \" or \"S= \": %q", file, i+1, line)
		}
		p := piece{s: fromClient}
		if line[0] == 'S' {
			p.s = fromServer
		}
		if line[1] == ':' {
			p.data = []byte(line[3:] + "\r\n")
		} else {
			s, err := strconv.Unquote(line[3:])
			if err != nil {
				tb.Fatalf("%s: wire line %d: %v", file, i+1, err)
			}
			p.data = []byte(s)
		}
		pieces = append(pieces, p)
	}
	return pieces
}

// runTrace feeds the pieces in order, each in chunks of chunk bytes (0:
// whole), and returns the trace.
func runTrace(proto string, pieces []piece, chunk int) string {
	var out bytes.Buffer
	tr := NewTrace(&out, proto)
	for _, p := range pieces {
		w := tr.Client()
		if p.s == fromServer {
			w = tr.Server()
		}
		data := p.data
		for len(data) > 0 {
			n := len(data)
			if chunk > 0 {
				n = min(n, chunk)
			}
			w.Write(data[:n])
			data = data[n:]
		}
	}
	return out.String()
}

func TestTraceCases(t *testing.T) {
	for _, c := range loadTraceCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := runTrace(c.proto, c.wire, 0)
			if got != c.want {
				t.Errorf("trace:\n%s\nwant:\n%s", got, c.want)
			}
			// How the bytes arrive must not change the trace.
			for _, chunk := range []int{1, 2, 3, 7} {
				if again := runTrace(c.proto, c.wire, chunk); again != got {
					t.Errorf("in chunks of %d bytes the trace is:\n%s\nnot:\n%s", chunk, again, got)
				}
			}
			for _, s := range c.secrets {
				if strings.Contains(got, s) {
					t.Errorf("trace shows the secret %q", s)
				}
			}
		})
	}
}

func TestTraceLongLines(t *testing.T) {
	long := strings.Repeat("x", 5000)
	got := runTrace("imap", []piece{
		{fromServer, []byte("* OK ready\r\n")},
		{fromServer, []byte("* SEARCH " + long + "\r\n")},
		// A literal announced at the end of a line longer than what is shown.
		{fromServer, []byte("* 1 FETCH (X-NOTE \"" + long + "\" BODY[] {12}\r\nHello world!)\r\n")},
		{fromClient, []byte("a1 NOOP\r\n")},
	}, 0)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := []string{
		"S: * OK ready",
		"S: * SEARCH " + strings.Repeat("x", traceShown-len("* SEARCH ")) + " ... [5009 bytes]",
		"S: * 1 FETCH (X-NOTE \"" + strings.Repeat("x", traceShown-len("* 1 FETCH (X-NOTE \"")) + " ... [5032 bytes]",
		"S: <12 bytes>",
		"S: )",
		"C: a1 NOOP",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestTraceNil(t *testing.T) {
	var tr *Trace
	tr.feed(fromClient, []byte("PASS secret\r\n")) // must not panic
}

// redactionScenario builds a conversation in which secret is a credential.
// ok says whether the protocol can carry that secret in this form at all
// (a POP3 PASS line cannot hold a line break).
type redactionScenario struct {
	name  string
	proto string
	ok    func(secret string) bool
	wire  func(secret, noise string) []piece
}

func noLineBreak(s string) bool { return !strings.ContainsAny(s, "\r\n") }
func anySecret(string) bool     { return true }
func quotable(s string) bool    { return !strings.ContainsAny(s, "\r\n\x00") }

func c(s string) piece  { return piece{fromClient, []byte(s)} }
func sv(s string) piece { return piece{fromServer, []byte(s)} }
func b64(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// clientNoise makes noise safe to send as a command's argument: one line
// that does not announce a literal (the client would then send one).
func clientNoise(s string) string {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	if strings.HasSuffix(s, "}") {
		s += "x"
	}
	return s
}

func serverNoise(s string) string { return strings.NewReplacer("\r", "", "\n", "").Replace(s) }

var redactionScenarios = []redactionScenario{
	{"pop3 USER/PASS", "pop3", noLineBreak, func(s, n string) []piece {
		return []piece{sv("+OK " + serverNoise(n) + "\r\n"), c("USER alice\r\n"), sv("+OK\r\n"), c("PASS " + s + "\r\n"), sv("+OK\r\n"), c("STAT\r\n"), sv("+OK 0 0\r\n")}
	}},
	{"pop3 pass lower case", "pop3", noLineBreak, func(s, n string) []piece {
		return []piece{sv("+OK hi\r\n"), c("user " + clientNoise(n) + "\r\n"), sv("+OK\r\n"), c("pass\t" + s + "\r\n"), sv("-ERR no\r\n")}
	}},
	{"pop3 APOP", "pop3", anySecret, func(s, n string) []piece {
		mac := md5.Sum([]byte("<1.2@host>" + s))
		return []piece{sv("+OK <1.2@host>\r\n"), c("APOP alice " + hex.EncodeToString(mac[:]) + "\r\n"), sv("+OK\r\n")}
	}},
	{"pop3 AUTH PLAIN initial response", "pop3", anySecret, func(s, n string) []piece {
		return []piece{sv("+OK hi\r\n"), c("AUTH PLAIN " + b64("\x00alice\x00"+s) + "\r\n"), sv("+OK\r\n"), c("LIST\r\n"), sv("+OK\r\n1 10\r\n.\r\n")}
	}},
	{"pop3 AUTH PLAIN pipelined after CAPA", "pop3", anySecret, func(s, n string) []piece {
		return []piece{sv("+OK hi\r\n"), c("CAPA\r\nAUTH PLAIN\r\n"), sv("+OK\r\nSASL PLAIN " + serverNoise(n) + "\r\n.\r\n+ \r\n"), c(b64("\x00alice\x00"+s) + "\r\n"), sv("+OK\r\n")}
	}},
	{"pop3 AUTH LOGIN", "pop3", anySecret, func(s, n string) []piece {
		return []piece{sv("+OK hi\r\n"), c("AUTH LOGIN\r\n"), sv("+ VXNlcm5hbWU6\r\n"), c(b64("alice") + "\r\n"), sv("+ UGFzc3dvcmQ6\r\n"), c(b64(s) + "\r\n"), sv("-ERR [AUTH] " + serverNoise(n) + "\r\n"), c("QUIT\r\n")}
	}},
	{"pop3 AUTH CRAM-MD5", "pop3", anySecret, func(s, n string) []piece {
		mac := hmac.New(md5.New, []byte(s))
		mac.Write([]byte("<1.2@host>"))
		return []piece{sv("+OK hi\r\n"), c("AUTH CRAM-MD5\r\n"), sv("+ " + b64("<1.2@host>") + "\r\n"), c(b64("alice "+hex.EncodeToString(mac.Sum(nil))) + "\r\n"), sv("+OK\r\n")}
	}},
	{"pop3 AUTH XOAUTH2 failing", "pop3", anySecret, func(s, n string) []piece {
		return []piece{sv("+OK hi\r\n"), c("AUTH XOAUTH2 " + b64("user=alice\x01auth=Bearer "+s+"\x01\x01") + "\r\n"), sv("+ " + b64(`{"status":"401"}`) + "\r\n"), c("\r\n"), sv("-ERR denied\r\n"), c("QUIT\r\n")}
	}},
	{"imap LOGIN quoted", "imap", quotable, func(s, n string) []piece {
		return []piece{sv("* OK " + serverNoise(n) + "\r\n"), c("a0 CAPABILITY\r\n"), sv("* CAPABILITY IMAP4rev1\r\na0 OK\r\n"), c("a1 LOGIN alice " + imapQuote(s) + "\r\n"), sv("a1 OK\r\n"), c("a2 SELECT INBOX\r\n")}
	}},
	{"imap login lower case", "imap", quotable, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c("a0 SELECT " + imapQuote(clientNoise(n)) + "\r\n"), sv("a0 NO\r\n"), c("a1 login \"alice\" " + imapQuote(s) + "\r\n"), sv("a1 NO\r\n")}
	}},
	{"imap LOGIN synchronizing literals", "imap", anySecret, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c("a1 LOGIN {5}\r\n"), sv("+ Ready\r\n"), c(fmt.Sprintf("alice {%d}\r\n", len(s))), sv("+ Ready\r\n"), c(s + "\r\n"), sv("a1 OK\r\n"), c("a2 LOGOUT\r\n")}
	}},
	{"imap LOGIN LITERAL+ in one write", "imap", anySecret, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c(fmt.Sprintf("a1 LOGIN alice {%d+}\r\n%s\r\na2 NOOP\r\n", len(s), s)), sv("a1 OK\r\na2 OK\r\n")}
	}},
	{"imap AUTHENTICATE PLAIN SASL-IR", "imap", anySecret, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c("A1 AUTHENTICATE PLAIN " + b64("\x00alice\x00"+s) + "\r\n"), sv("A1 OK\r\n"), c("A2 NOOP\r\n")}
	}},
	{"imap AUTHENTICATE LOGIN", "imap", anySecret, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c("A1 AUTHENTICATE LOGIN\r\n"), sv("+ VXNlcm5hbWU6\r\n"), c(b64("alice") + "\r\n"), sv("* OK " + serverNoise(n) + "\r\n+ UGFzc3dvcmQ6\r\n"), c(b64(s) + "\r\n"), sv("A1 NO\r\n")}
	}},
	{"imap AUTHENTICATE XOAUTH2 failing", "imap", anySecret, func(s, n string) []piece {
		return []piece{sv("* OK hi\r\n"), c("A1 AUTHENTICATE XOAUTH2 " + b64("user=alice\x01auth=Bearer "+s+"\x01\x01") + "\r\n"), sv("+ " + b64(`{"status":"401"}`) + "\r\n"), c("=\r\n"), sv("A1 NO denied\r\n")}
	}},
}

// FuzzTraceRedaction checks that no credential ever reaches the trace: in
// every scenario the trace is the same whatever the secret (so it cannot
// show it, or its length), and does not contain it, however the bytes are
// split.
func FuzzTraceRedaction(f *testing.F) {
	for _, c := range loadTraceCases(f) {
		for _, s := range c.secrets {
			f.Add(s, c.name, uint8(0))
		}
	}
	f.Add("p{5}a\r\nss", "x {3}", uint8(1))
	f.Add("\"\\ \t}", "", uint8(2))
	const ref = "x"
	f.Fuzz(func(t *testing.T, secret, noise string, split uint8) {
		chunk := int(split % 9) // 0: whole pieces
		for _, sc := range redactionScenarios {
			if !sc.ok(secret) {
				continue
			}
			want := runTrace(sc.proto, sc.wire(ref, noise), 0)
			got := runTrace(sc.proto, sc.wire(secret, noise), chunk)
			if got != want {
				t.Fatalf("%s: the trace depends on the secret %q:\n%s\nwith %q:\n%s", sc.name, secret, got, ref, want)
			}
			if len(secret) >= 4 && !strings.Contains(want, secret) && strings.Contains(got, secret) {
				t.Fatalf("%s: the trace shows the secret %q:\n%s", sc.name, secret, got)
			}
		}
	})
}

func TestRedactionScenarios(t *testing.T) {
	// Each scenario ends with its credential hidden but the conversation
	// around it shown: a redaction that swallowed everything would pass
	// the fuzz target too.
	for _, sc := range redactionScenarios {
		got := runTrace(sc.proto, sc.wire("hunter2-secret", "noise"), 0)
		if strings.Contains(got, "hunter2") || strings.Contains(got, b64("\x00alice\x00hunter2-secret")) {
			t.Errorf("%s: secret shown:\n%s", sc.name, got)
		}
		if !strings.Contains(got, redacted) {
			t.Errorf("%s: nothing redacted:\n%s", sc.name, got)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if last := lines[len(lines)-1]; strings.Contains(last, redacted) {
			t.Errorf("%s: redaction did not end:\n%s", sc.name, got)
		}
	}
}

// FuzzTraceStream feeds arbitrary bytes to both sides: the trace must not
// panic, and each output line stays short whatever the input.
func FuzzTraceStream(f *testing.F) {
	for _, c := range loadTraceCases(f) {
		var b bytes.Buffer
		for _, p := range c.wire {
			b.WriteByte(byte(p.s))
			b.Write(p.data)
			b.WriteByte(0xfe)
		}
		f.Add(c.proto == "imap", b.Bytes())
	}
	f.Fuzz(func(t *testing.T, imap bool, data []byte) {
		proto := "pop3"
		if imap {
			proto = "imap"
		}
		var out bytes.Buffer
		tr := NewTrace(&out, proto)
		// 0xfe separates pieces; a piece's first byte picks the side.
		for _, p := range bytes.Split(data, []byte{0xfe}) {
			if len(p) == 0 {
				continue
			}
			w := tr.Client()
			if p[0]&1 == 1 {
				w = tr.Server()
			}
			w.Write(p[1:])
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if len(line) > 4<<10 {
				t.Fatalf("output line of %d bytes", len(line))
			}
		}
	})
}
