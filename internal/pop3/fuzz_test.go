package pop3

import (
	"bytes"
	"strings"
	"testing"
)

// The fuzz targets are seeded from the reply cases under testdata/ and check
// that no input panics, that memory stays bounded (the parsers only ever
// see bounded lines), and that whatever is accepted is valid.

func FuzzStatusLine(f *testing.F) {
	for _, rc := range loadCases(f, "status") {
		f.Add(rc.input)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := runCase("status", in, 64, 0)
		if r.err != nil {
			return
		}
		line, _, _ := bytes.Cut(in, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		word, _, _ := bytes.Cut(line, []byte(" "))
		if !bytes.EqualFold(word, []byte("+OK")) && !bytes.EqualFold(word, []byte("-ERR")) {
			t.Fatalf("accepted %q as a status line", in)
		}
		st, err := parseStatus(line)
		if err != nil {
			t.Fatal(err)
		}
		if st.ok && st.code != "" {
			t.Fatalf("+OK with a code %q", st.code)
		}
		for _, c := range []byte(st.code) {
			if !isAlnum(c) && c != '-' && c != '/' || 'a' <= c && c <= 'z' {
				t.Fatalf("code %q", st.code)
			}
		}
		e := &Error{Command: "X", Code: st.code, Text: sanitize(st.text)}
		if strings.ContainsFunc(e.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("control character in error %q", e.Error())
		}
	})
}

// refBody is a plain reading of RFC 1939 §3 to compare the streaming
// dotReader with: whole lines, one at a time.
func refBody(in []byte, maxLine int) (out, rest []byte, ok bool) {
	for {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			return out, nil, false
		}
		line := in[:i+1]
		in = in[i+1:]
		content := bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		if bytes.Equal(content, []byte(".")) {
			return out, in, true
		}
		if len(line) > maxLine {
			return out, nil, false
		}
		if len(content) > 0 && content[0] == '.' {
			content = content[1:]
		}
		out = append(out, content...)
		out = append(out, '\n')
	}
}

func FuzzMultiline(f *testing.F) {
	for _, rc := range loadCases(f, "body") {
		f.Add(rc.input, uint8(0), uint16(6), uint8(rc.maxLine))
		f.Add(rc.input, uint8(1), uint16(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, bufSize uint8, readSize uint16, maxLine uint8) {
		ml := int(maxLine)
		if ml == 0 {
			ml = DefaultMaxMessageLine
		}
		want, wantRest, ok := refBody(in, ml)
		r := runBody(in, 16+int(bufSize%64), 1+int(readSize%300), ml)
		if !ok {
			if r.err == nil {
				t.Fatalf("accepted %q as %q; the reference refuses it", in, r.got)
			}
			return
		}
		if r.err != nil {
			t.Fatalf("refused %q: %v; the reference reads %q", in, r.err, want)
		}
		if r.got != string(want) {
			t.Fatalf("read %q as %q, the reference as %q", in, r.got, want)
		}
		if !bytes.Equal(r.rest, wantRest) {
			t.Fatalf("left %q unread, the reference %q", r.rest, wantRest)
		}
	})
}

func FuzzUIDL(f *testing.F) {
	for _, rc := range loadCases(f, "uidl") {
		f.Add(rc.input)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p uidlParser
		invalid, err := readMultiline(newLineReader(in, 16, 256), 1<<16, p.add)
		if err != nil || invalid != nil {
			return
		}
		nums, uids := map[int]bool{}, map[string]bool{}
		for _, m := range p.list {
			if m.Num < 1 || nums[m.Num] || uids[m.UID] {
				t.Fatalf("accepted %+v twice or out of range", m)
			}
			nums[m.Num], uids[m.UID] = true, true
			if err := checkUID([]byte(m.UID)); err != nil {
				t.Fatalf("accepted %+v: %v", m, err)
			}
		}
	})
}

func FuzzList(f *testing.F) {
	for _, rc := range loadCases(f, "list") {
		f.Add(rc.input)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p listParser
		invalid, err := readMultiline(newLineReader(in, 16, 256), 1<<16, p.add)
		if err != nil || invalid != nil {
			return
		}
		nums := map[int]bool{}
		for _, m := range p.list {
			if m.Num < 1 || m.Size < 0 || nums[m.Num] {
				t.Fatalf("accepted %+v", m)
			}
			nums[m.Num] = true
		}
	})
}

func FuzzCapa(f *testing.F) {
	for _, rc := range loadCases(f, "capa") {
		f.Add(rc.input)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p capaParser
		invalid, err := readMultiline(newLineReader(in, 16, 256), 1<<16, p.add)
		if err != nil || invalid != nil {
			return
		}
		for name, args := range p.caps {
			if name == "" || name != strings.ToUpper(name) || strings.ContainsAny(name, " \r\n") {
				t.Fatalf("accepted capability name %q", name)
			}
			for _, a := range args {
				if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
					t.Fatalf("accepted argument %q of %s", a, name)
				}
			}
			if !p.caps.Has(strings.ToLower(name)) {
				t.Fatalf("Has(%q) is false", name)
			}
		}
		p.caps.SASL()
		p.caps.LoginDelay()
		p.caps.Expire()
	})
}
