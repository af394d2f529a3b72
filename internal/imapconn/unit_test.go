package imapconn

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-imap/v2"
)

func TestFlagMapping(t *testing.T) {
	got := flagsOf([]imap.Flag{`\Seen`, `\ANSWERED`, `\flagged`, `\Deleted`, `\Draft`, `\Recent`, "$Forwarded"})
	if got.String() != "DFRST" {
		t.Errorf("flagsOf = %q", got)
	}
	if back := flagsToIMAP(got); len(back) != 5 {
		t.Errorf("flagsToIMAP = %v", back)
	}
	// Changes grouped into one STORE per distinct change: "+S" for 1, 2
	// and 3, "-F" for 3 and 4.
	ops := groupStores(map[UID]FlagChange{
		1: {Add: Seen}, 2: {Add: Seen}, 3: {Add: Seen, Remove: Flagged}, 4: {Remove: Flagged},
	})
	if len(ops) != 2 || !ops[0].add || ops[0].flags != Seen || len(ops[0].uids) != 3 || ops[1].add || len(ops[1].uids) != 2 {
		t.Errorf("groupStores = %+v", ops)
	}
}

func TestLFReader(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"a\r\nb\r\n":       "a\nb\n",
		"a\rb":             "a\rb",
		"a\r":              "a\r",
		"\r\r\n":           "\r\n",
		"a\nb":             "a\nb",
		"\r\n\r\n\r\n":     "\n\n\n",
		"x\r\r\r\ny\r\n\r": "x\r\r\ny\n\r",
	} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader,
		} {
			got, err := io.ReadAll(iotest.OneByteReader(newLFReader(wrap(strings.NewReader(in)))))
			if err != nil || string(got) != want {
				t.Errorf("lf(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
	}
	// A long message through small reads keeps every byte.
	big := strings.Repeat("line of text\r\n", 10000) + "end\r"
	got, _ := io.ReadAll(newLFReader(iotest.HalfReader(strings.NewReader(big))))
	if string(got) != strings.ReplaceAll(big, "\r\n", "\n") {
		t.Error("long message changed")
	}
	// Pooled buffers: a reader released mid-message reads no more, and
	// the next reader, which may get the same buffers, starts clean.
	for range 3 {
		lf := newLFReader(strings.NewReader(big))
		if _, err := io.ReadFull(lf, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		lf.release()
		lf.release()
		if n, err := lf.Read(make([]byte, 10)); n != 0 || err == nil {
			t.Errorf("read after release: %d, %v", n, err)
		}
		// Released while a CR is held for the next read: nothing more.
		held := newLFReader(strings.NewReader("ab\r"))
		b := make([]byte, 10)
		if n, _ := held.Read(b); string(b[:n]) != "ab" {
			t.Fatalf("held CR: first read %q", b[:n])
		}
		held.release()
		if n, err := held.Read(make([]byte, 10)); n != 0 || err == nil {
			t.Errorf("read after release with a held CR: %d, %v", n, err)
		}
		got, err := io.ReadAll(newLFReader(strings.NewReader("a\r\nb")))
		if err != nil || string(got) != "a\nb" {
			t.Errorf("reader after a release: %q, %v", got, err)
		}
	}
}

func TestLiteralGuard(t *testing.T) {
	g := &literalGuard{r: strings.NewReader("short"), size: 10}
	if _, err := io.ReadAll(g); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short literal: %v, want io.ErrUnexpectedEOF", err)
	}
	g = &literalGuard{r: strings.NewReader("exact"), size: 5}
	if b, err := io.ReadAll(g); err != nil || string(b) != "exact" || g.n != 5 {
		t.Errorf("exact literal: %q, %v", b, err)
	}
}

func TestUIDSets(t *testing.T) {
	set, ok := uidSetOf([]UID{5, 1, 2, 3, 9, 9, 10})
	if !ok || set.String() != "1:3,5,9:10" {
		t.Errorf("uidSetOf = %v", set)
	}
	// Gaps the server does not have are spanned.
	set, ok = uidSetAcross([]UID{10, 20, 30, 50}, []UID{1, 10, 20, 30, 40, 50})
	if !ok || set.String() != "10:30,50" {
		t.Errorf("uidSetAcross = %v", set)
	}
	list, ok := uidList(imap.UIDSetNum(1, 2, 3, 7), 10)
	if !ok || len(list) != 4 {
		t.Errorf("uidList = %v", list)
	}
	if _, ok := uidList(imap.UIDSet{{Start: 1, Stop: 4000000000}}, 100); ok {
		t.Error("uidList accepted a set beyond its limit")
	}
}

// FuzzLFReader: the streaming conversion equals the whole-buffer one,
// whatever the read sizes.
func FuzzLFReader(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\r", "\r\r\n\n", "x\ry\r\n"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, in string, chunk uint8) {
		want := strings.ReplaceAll(in, "\r\n", "\n")
		var r io.Reader = strings.NewReader(in)
		switch chunk % 3 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		}
		got, err := io.ReadAll(newLFReader(r))
		if err != nil || string(got) != want {
			t.Fatalf("lf(%q) = %q, %v; want %q", in, got, err, want)
		}
	})
}

// No helper makes an empty set: go-imap's encoder would fail on one and
// tear the connection down. (sync's TestEmptySetGuard checks that no such
// command goes out.)
func TestEmptySetGuard(t *testing.T) {
	if _, ok := uidSetOf(nil); ok {
		t.Error("uidSetOf(nil) is not empty-guarded")
	}
	if _, ok := uidSetAcross(nil, nil); ok {
		t.Error("uidSetAcross(nil) is not empty-guarded")
	}
	if _, ok := rangeUpTo(0); ok {
		t.Error("rangeUpTo(0) is not empty-guarded")
	}
	if _, ok := seqSetOf(nil); ok {
		t.Error("seqSetOf(nil) is not empty-guarded")
	}
}
