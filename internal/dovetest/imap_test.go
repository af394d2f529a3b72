package dovetest

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/mutf7"
)

type mutf7Case struct{ utf8, encoded string }

func readMUTF7Cases(t testing.TB) []mutf7Case {
	data, err := os.ReadFile("testdata/mutf7.txt")
	if err != nil {
		t.Fatal(err)
	}
	var cases []mutf7Case
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("testdata/mutf7.txt: bad line %q", line)
		}
		cases = append(cases, mutf7Case{in, want})
	}
	return cases
}

func TestEncodeMUTF7(t *testing.T) {
	for _, c := range readMUTF7Cases(t) {
		if got := mutf7.Encode(c.utf8); got != c.encoded {
			t.Errorf("mutf7.Encode(%q) = %q, want %q", c.utf8, got, c.encoded)
		}
	}
}

// TestMUTF7MatchesDovecot checks the table against Dovecot itself.
func TestMUTF7MatchesDovecot(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []User{{Name: "carol", Password: "pw", MailLocation: "maildir:~/Maildir:LAYOUT=fs"}}})
	var want []string
	for _, c := range readMUTF7Cases(t) {
		if strings.HasPrefix(c.utf8, "~") || c.utf8 == "INBOX" {
			continue // Dovecot refuses '~' at the start (home directory access)
		}
		if err := s.CreateMailbox("carol", c.utf8); err != nil {
			t.Fatal(err)
		}
		want = append(want, c.encoded)
	}
	out, err := s.Doveadm("mailbox", "list", "-7", "-u", "carol")
	if err != nil {
		t.Fatal(err)
	}
	listed := strings.Split(string(out), "\n")
	for _, w := range want {
		if !contains(listed, w) {
			t.Errorf("doveadm mailbox list -7 lacks %q:\n%s", w, out)
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

type responseCase struct {
	stream   []byte
	err      bool
	text     string
	literals []string
}

func readResponseCases(t testing.TB) []responseCase {
	data, err := os.ReadFile("testdata/imap-responses.txt")
	if err != nil {
		t.Fatal(err)
	}
	var cases []responseCase
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		var vals []string
		for _, f := range fields {
			if f == "error" {
				vals = append(vals, f)
				continue
			}
			v, err := strconv.Unquote(f)
			if err != nil {
				t.Fatalf("testdata/imap-responses.txt: %q: %v", f, err)
			}
			vals = append(vals, v)
		}
		if len(vals) < 2 {
			t.Fatalf("testdata/imap-responses.txt: bad line %q", line)
		}
		c := responseCase{stream: []byte(vals[0])}
		if fields[1] == "error" {
			c.err = true
		} else {
			c.text, c.literals = vals[1], vals[2:]
		}
		cases = append(cases, c)
	}
	return cases
}

func TestReadIMAPResponse(t *testing.T) {
	for _, c := range readResponseCases(t) {
		r, err := readIMAPResponse(bufio.NewReader(bytes.NewReader(c.stream)))
		if c.err {
			if err == nil {
				t.Errorf("%q: no error, want one", c.stream)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.stream, err)
			continue
		}
		var lits []string
		for _, l := range r.literals {
			lits = append(lits, string(l))
		}
		if string(r.text) != c.text || strings.Join(lits, "|") != strings.Join(c.literals, "|") || len(lits) != len(c.literals) {
			t.Errorf("%q: text %q literals %q; want %q %q", c.stream, r.text, lits, c.text, c.literals)
		}
	}
}

func TestFetchBody(t *testing.T) {
	for _, c := range []struct {
		stream string
		uid    uint32
		body   string
		ok     bool
	}{
		{"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc)\r\n", 7, "ab\r\nc", true},
		{"* 2 FETCH (BODY[] {3}\r\nxyz UID 12)\r\n", 12, "xyz", true},
		{"* 3 FETCH (FLAGS (\\Seen) UID 3)\r\n", 0, "", false},
		{"* 4 EXISTS\r\n", 0, "", false},
	} {
		r, err := readIMAPResponse(bufio.NewReader(strings.NewReader(c.stream)))
		if err != nil {
			t.Fatal(err)
		}
		uid, body, ok, err := r.fetchBody()
		if err != nil || ok != c.ok || uid != c.uid || string(body) != c.body {
			t.Errorf("%q: %d %q %v %v; want %d %q %v", c.stream, uid, body, ok, err, c.uid, c.body, c.ok)
		}
	}
}

// FuzzReadIMAPResponse: no input makes the reader or the FETCH parser
// panic, and a literal never comes back longer than announced.
func FuzzReadIMAPResponse(f *testing.F) {
	for _, c := range readResponseCases(f) {
		f.Add(c.stream)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		br := bufio.NewReader(bytes.NewReader(stream))
		for range 8 {
			r, err := readIMAPResponse(br)
			if err != nil {
				return
			}
			if len(r.literals) != len(r.litEnd) {
				t.Fatalf("%d literals, %d ends", len(r.literals), len(r.litEnd))
			}
			total := 0
			for _, l := range r.literals {
				total += len(l)
			}
			if total > len(stream) {
				t.Fatalf("literals hold %d bytes of a %d-byte stream", total, len(stream))
			}
			r.fetchBody()
		}
	})
}
