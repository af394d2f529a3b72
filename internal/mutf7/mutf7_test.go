package mutf7

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// nameCase is a line of testdata/mailbox-names.txt: a raw name as a
// server sends it and its decoding; ok false when go-imap refuses it.
type nameCase struct {
	raw, dec string
	ok       bool
}

// nameCases reads testdata/mailbox-names.txt.
func nameCases(t testing.TB) []nameCase {
	t.Helper()
	f, err := os.Open("testdata/mailbox-names.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nameCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		a, b, _ := strings.Cut(l, "\t")
		c := nameCase{}
		if c.raw, err = strconv.Unquote(a); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
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

// plainUTF8 reports whether a decoded name is valid UTF-8 without
// control characters (what a server may be sent as a name).
func plainUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func TestDecode(t *testing.T) {
	for _, c := range nameCases(t) {
		got, ok := Decode(c.raw)
		if strings.EqualFold(c.raw, "INBOX") {
			continue
		}
		if ok != c.ok || got != c.dec {
			t.Errorf("Decode(%q) = %q, %v; want %q, %v", c.raw, got, ok, c.dec, c.ok)
		}
		if ok && plainUTF8(got) {
			if back, ok := Decode(Encode(got)); !ok || back != got {
				t.Errorf("Encode(%q) = %q does not decode back", got, Encode(got))
			}
		}
	}
}

// FuzzMUTF7: encoding round-trips, and what decodes is stable.
func FuzzMUTF7(f *testing.F) {
	for _, c := range nameCases(f) {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ToValidUTF8(s, "") == s {
			if back, ok := Decode(Encode(s)); !ok || back != s {
				t.Fatalf("Encode(%q) = %q decodes to %q, %v", s, Encode(s), back, ok)
			}
		}
		if d, ok := Decode(s); ok {
			if back, ok := Decode(Encode(d)); !ok || back != d {
				t.Fatalf("%q decodes to %q, which does not round-trip", s, d)
			}
		}
	})
}
