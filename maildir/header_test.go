package maildir

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"
)

// ReadHeader decodes what a delivery would, however the header arrives.
func TestReadHeader(t *testing.T) {
	t.Parallel()
	raw := "Received: x\r\nFrom: =?utf-8?q?Ann_Sch=C3=A4fer?= <ann@example.org>\r\nSubject: =?utf-8?b?SGFsbG8gV2VsdA==?=\r\n" +
		"Message-ID: <a@b>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"
	for name, r := range map[string]func() Header{
		"whole":    func() Header { return ReadHeader(strings.NewReader(raw)) },
		"one byte": func() Header { return ReadHeader(iotest.OneByteReader(strings.NewReader(raw))) },
		"data+EOF": func() Header { return ReadHeader(iotest.DataErrReader(strings.NewReader(raw))) },
	} {
		h := r()
		if h.From != "Ann Schäfer <ann@example.org>" || h.Subject != "Hallo Welt" || h.MessageID != "a@b" || h.Date.IsZero() {
			t.Errorf("%s: %+v", name, h)
		}
	}
	// A header that never ends is read for its first 64 KiB only.
	endless := strings.Repeat("X-Long: "+strings.Repeat("y", 70)+"\n", 10000)
	if h := ReadHeader(strings.NewReader("Subject: s\n" + endless)); h.Subject != "s" {
		t.Errorf("endless header: subject %q", h.Subject)
	}
	// A read error ends the header where it is.
	if h := ReadHeader(iotest.TimeoutReader(strings.NewReader("Subject: cut\n"))); h.Subject != "cut" {
		t.Errorf("cut header: subject %q", h.Subject)
	}
}

// Whatever a server sends, the fields are one line of valid UTF-8 of
// bounded length.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte("From: Ann <a@b>\nSubject: hi\n\nbody\n"))
	f.Add([]byte("From: =?utf-8?q?=FF?=\r\nSubject: =?iso-8859-1?q?caf=E9?=\r\n\r\n"))
	f.Add([]byte("From nobody Mon Jan  1\nSubject:\n folded\n\tagain\n\n"))
	f.Add([]byte("\n\nno header"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := ReadHeader(bytes.NewReader(raw))
		for _, field := range []string{h.From, h.Subject, h.MessageID} {
			if !utf8.ValidString(field) || len(field) > maxField {
				t.Fatalf("field %q: invalid UTF-8 or too long", field)
			}
			if strings.IndexFunc(field, func(r rune) bool { return unicode.IsControl(r) || r == '\n' }) >= 0 {
				t.Fatalf("field %q has a control character", field)
			}
		}
	})
}
