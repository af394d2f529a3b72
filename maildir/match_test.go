package maildir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// toCRLF turns every LF not preceded by CR into CRLF: the message as a
// server sends it.
func toCRLF(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// headerOnly is what POP3 TOP n 0 gives for msg: its header and the
// empty line.
func headerOnly(msg []byte) []byte {
	var w KeyWriter
	for i := range msg {
		w.Write(msg[i : i+1])
		if w.HeaderDone() {
			return msg[:i+1]
		}
	}
	return msg
}

func TestMatchKeys(t *testing.T) {
	t.Parallel()
	for _, row := range readTable(t, "matchkeys.txt") {
		msg, id, digested := []byte(row[0]), row[1], row[2]
		size, err := strconv.ParseInt(row[3], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want := MatchKey{HeaderKey: HeaderKey{MessageID: id}, Size: size}
		if id == "" {
			want.Digest = sha256.Sum256([]byte(digested))
		}
		k, err := ReadMatchKey(bytes.NewReader(msg))
		if err != nil || k != want {
			t.Errorf("ReadMatchKey(%q) = %+v, %v; want %+v", msg, k, err, want)
			continue
		}
		// The same key however the bytes come: one at a time, with CRLF
		// line ends, or only the header (TOP n 0) for the header key.
		for _, v := range []struct {
			what string
			key  func() (MatchKey, error)
		}{
			{"byte by byte", func() (MatchKey, error) { return ReadMatchKey(iotest.OneByteReader(bytes.NewReader(msg))) }},
			{"CRLF", func() (MatchKey, error) { return ReadMatchKey(bytes.NewReader(toCRLF(msg))) }},
			{"header only", func() (MatchKey, error) {
				h, err := ReadHeaderKey(bytes.NewReader(toCRLF(headerOnly(msg))))
				return MatchKey{HeaderKey: h, Size: size}, err
			}},
		} {
			if got, err := v.key(); err != nil || got != want {
				t.Errorf("%q %s: %+v, %v; want %+v", msg, v.what, got, err, want)
			}
		}
	}
}

// The IMAP engine's MDA digest is taken of the Message-ID with "<>"
// trimmed: for a bracketed id, NormalizeMessageID gives the same string.
func TestNormalizeMessageIDAsTrim(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"<a@b>", " <x.y@z> ", "<\n folded@x>"} {
		trimmed := strings.Trim(strings.Join(strings.Fields(s), ""), "<>")
		if got := NormalizeMessageID(s); got != trimmed {
			t.Errorf("NormalizeMessageID(%q) = %q, want %q", s, got, trimmed)
		}
	}
}

// FuzzMatchKey: any bytes give the same key whether written at once or in
// pieces, with LF or CRLF line ends; the header alone gives the header key;
// the size is the CRLF form's length.
func FuzzMatchKey(f *testing.F) {
	for _, row := range readTable(f, "matchkeys.txt") {
		f.Add([]byte(row[0]), uint8(3))
	}
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint8) {
		k, err := ReadMatchKey(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		var w KeyWriter
		step := int(chunk%16) + 1
		for i := 0; i < len(msg); i += step {
			w.Write(msg[i:min(i+step, len(msg))])
		}
		if w.Key() != k {
			t.Fatalf("in chunks of %d: %+v, at once %+v", step, w.Key(), k)
		}
		crlf := toCRLF(msg)
		if k.Size != int64(len(crlf)) {
			t.Fatalf("size %d, CRLF form has %d bytes", k.Size, len(crlf))
		}
		// A bare CR just before a line's LF would read as CRLF once
		// converted; such input has no single reading.
		if !bytes.Contains(msg, []byte("\r\r")) && !bytes.HasSuffix(msg, []byte("\r")) {
			if k2, _ := ReadMatchKey(bytes.NewReader(crlf)); k2 != k {
				t.Fatalf("CRLF form: %+v, LF form %+v", k2, k)
			}
		}
		if h, _ := ReadHeaderKey(bytes.NewReader(headerOnly(msg))); h != k.HeaderKey {
			t.Fatalf("header only: %+v, whole %+v", h, k.HeaderKey)
		}
		if k.MessageID != "" && k.Digest != ([sha256.Size]byte{}) {
			t.Fatal("a key with a Message-ID has a digest")
		}
	})
}

func TestIndexMatches(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "Mail")
	// A folder that does not exist has no messages, and stays missing.
	if ix, err := IndexMatches(root, []MatchKey{{Size: 1}}, nil); err != nil || ix.Len() != 0 {
		t.Fatalf("missing folder: %v, %v", ix, err)
	}
	if has, err := HasMessages(root); err != nil || has {
		t.Fatalf("HasMessages of a missing folder: %v %v", has, err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("IndexMatches created the folder: %v", err)
	}
	s, err := Open(root, LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	if has, err := HasMessages(root); err != nil || has {
		t.Fatalf("HasMessages of an empty folder: %v %v", has, err)
	}
	msgs := []string{
		"Message-ID: <a@x>\n\none\n",
		"Message-ID: <a@x>\n\none\n", // the same message twice
		"Message-ID: <a@x>\n\nlonger\n",
		"Subject: no id\n\nbody\n",
		"Message-ID: <b@x>\n\nnot wanted\n",
	}
	var paths []string
	for _, m := range msgs {
		st, err := inbox.Deliver(context.Background(), strings.NewReader(m), StageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, st.Path())
	}
	// One moved to cur/ with flags, as a mail reader does.
	seen, err := inbox.SetFlags(paths[3], "S")
	if err != nil {
		t.Fatal(err)
	}
	paths[3] = seen
	// Not message files: skipped.
	os.WriteFile(filepath.Join(root, "new", ".hidden"), []byte(msgs[0]), 0o600)
	os.WriteFile(filepath.Join(root, "cur", ":2,S"), []byte(msgs[0]), 0o600)

	key := func(m string) MatchKey {
		k, err := ReadMatchKey(strings.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	want := []MatchKey{key(msgs[0]), key(msgs[2]), key(msgs[3]), {HeaderKey: HeaderKey{MessageID: "gone@x"}, Size: 9}}
	ix, err := IndexMatches(root, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 4 {
		t.Fatalf("indexed %d files, want 4", ix.Len())
	}
	first, ok1 := ix.Take(want[0])
	second, ok2 := ix.Take(want[0])
	if _, ok3 := ix.Take(want[0]); !ok1 || !ok2 || ok3 || first.Path == second.Path {
		t.Errorf("Take of a key held twice: %v %v %v", ok1, ok2, first.Path == second.Path)
	}
	if e, ok := ix.Take(want[1]); !ok || e.Path != paths[2] {
		t.Errorf("Take of the longer one: %v %v", e, ok)
	}
	if e, ok := ix.Take(want[2]); !ok || e.Path != paths[3] || e.Flags != "S" || e.New {
		t.Errorf("Take of the one without Message-ID: %+v %v", e, ok)
	}
	if _, ok := ix.Take(want[3]); ok || ix.Len() != 0 {
		t.Errorf("a key with no file matched, or files left: %d", ix.Len())
	}
	// Only limits the files considered.
	ix, err = IndexMatches(root, want, func(e Entry) bool { return e.New })
	if err != nil || ix.Len() != 3 {
		t.Errorf("with only new/: %d files, %v", ix.Len(), err)
	}
	if has, err := HasMessages(root); err != nil || !has {
		t.Errorf("HasMessages: %v %v", has, err)
	}
}
