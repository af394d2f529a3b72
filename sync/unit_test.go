package sync

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/imapconn"

	"github.com/mailfetch/mailfetch/maildir"
)

// testdataLines returns the non-comment lines of a testdata file.
func testdataLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
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

func TestStateRecords(t *testing.T) {
	t.Parallel()
	for _, l := range testdataLines(t, "records.txt") {
		verdict, rec, _ := strings.Cut(l, " ")
		s := newFolderState("x")
		err := s.applyRecord([]byte(rec))
		switch verdict {
		case "ok":
			if err != nil {
				t.Errorf("%q: %v", rec, err)
			}
		case "bad":
			if err == nil {
				t.Errorf("%q: accepted", rec)
			}
		default:
			t.Fatalf("bad testdata line %q", l)
		}
	}
}

// FuzzStateRecord: no record makes the parser panic, and every record it
// accepts into a message survives a snapshot round trip unchanged.
func FuzzStateRecord(f *testing.F) {
	for _, l := range testdataLines(f, "records.txt") {
		_, rec, _ := strings.Cut(l, " ")
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		s := newFolderState("x")
		s.name = "x"
		if err := s.applyRecord([]byte(rec)); err != nil {
			return
		}
		s.name = "x"
		snap := s.snapshot()
		back, err := parseState("x", snap)
		if err != nil {
			t.Fatalf("snapshot of %q does not parse: %v", rec, err)
		}
		if !statesEqual(s, back) {
			t.Fatalf("snapshot of %q changed the state", rec)
		}
	})
}

func statesEqual(a, b *folderState) bool {
	if a.name != b.name || a.identity != b.identity || a.uidValidity != b.uidValidity || a.last != b.last || a.modSeq != b.modSeq ||
		a.status != b.status || a.vanished != b.vanished || len(a.msgs) != len(b.msgs) || len(a.pending) != len(b.pending) {
		return false
	}
	for u, m := range a.msgs {
		if n := b.msgs[u]; n == nil || *n != *m {
			return false
		}
	}
	for u, m := range a.pending {
		if n := b.pending[u]; n == nil || *n != *m {
			return false
		}
	}
	return true
}

func TestStateReplay(t *testing.T) {
	t.Parallel()
	recs := [][]byte{
		recV(), recN("Box"), recU(7), recL(10),
		recMsg(recMessage, 1, &msgRecord{unique: "a,S=1", flags: "S", size: 5}),
		recMsg(recPending, 2, &msgRecord{unique: "b", size: 6}),
		recMsg(recPending, 3, &msgRecord{unique: "c", size: 7}),
		recD(2), recF(1, "FS"), recR(1, ""), recX(3), recD(3),
		recS(statusMark{valid: true, uidValidity: 7, uidNext: 4, messages: 2, highestModSeq: 9}),
	}
	s, err := parseState("Box", recs)
	if err != nil {
		t.Fatal(err)
	}
	if s.uidValidity != 7 || s.last != 10 || len(s.msgs) != 2 || len(s.pending) != 0 {
		t.Fatalf("state %+v", s)
	}
	if m := s.msgs[1]; m.flags != "FS" || !m.localGone || m.unique != "a,S=1" {
		t.Errorf("msg 1: %+v", m)
	}
	if m := s.msgs[2]; m == nil || m.unique != "b" {
		t.Errorf("msg 2: %+v", m)
	}
	if _, err := parseState("Other", recs); err == nil {
		t.Error("state of another folder accepted")
	}
	if _, err := parseState("Box", recs[1:]); err == nil {
		t.Error("state without version record accepted")
	}
	back, err := parseState("Box", s.snapshot())
	if err != nil || !statesEqual(s, back) {
		t.Errorf("snapshot round trip: %v", err)
	}
}

func TestReadJournal(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(recV(), recN("x")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// A torn last record, as a crash leaves it, is ignored.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString("0badc0de L 5")
	f.Close()
	recs, err := maildir.ReadJournal(path)
	if err != nil || len(recs) != 2 || string(recs[1]) != "N x" {
		t.Fatalf("readJournal: %q, %v", recs, err)
	}
	_, want, err := maildir.OpenJournal(path)
	if err != nil || !slices.EqualFunc(recs, want, bytes.Equal) {
		t.Errorf("readJournal %q, OpenJournal %q (%v)", recs, want, err)
	}
}

func TestStateFileName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"INBOX":        "INBOX.journal",
		"Archive/2024": "Archive%2F2024.journal",
		"dot.name":     "dot.name.journal",
		".hidden":      "%2Ehidden.journal",
		"Entwürfe":     "Entw%C3%BCrfe.journal",
		"../x":         "%2E.%2Fx.journal",
	} {
		if got := stateFileName(name); got != want {
			t.Errorf("stateFileName(%q) = %q, want %q", name, got, want)
		}
	}
	long := strings.Repeat("ü", 200)
	if n := stateFileName(long); len(n) > 200 || n == stateFileName(long+"x") {
		t.Errorf("long name: %q", n)
	}
}

func TestMergeFlags(t *testing.T) {
	t.Parallel()
	flag := func(s string) maildir.Flags {
		if s == "-" {
			return ""
		}
		return maildir.ParseFlags(s)
	}
	for _, l := range testdataLines(t, "merge.txt") {
		f := strings.Fields(l)
		if len(f) != 5 || f[3] != "=>" {
			t.Fatalf("bad testdata line %q", l)
		}
		base, server, local, want := flag(f[0]), flag(f[1]), flag(f[2]), flag(f[4])
		if got := mergeFlags(base, server, local); got != want {
			t.Errorf("merge(base %q, server %q, local %q) = %q, want %q", base, server, local, got, want)
		}
		// The rule is symmetric in the two sides.
		if got := mergeFlags(base, local, server); got != want {
			t.Errorf("merge(base %q, server %q, local %q) = %q, want %q", base, local, server, got, want)
		}
	}
}

func TestFlagMapping(t *testing.T) {
	t.Parallel()
	// The IMAP side (names, case, keywords) is imapconn's: see its
	// TestFlagMapping.
	all := imapconn.Seen | imapconn.Answered | imapconn.Flagged | imapconn.Deleted | imapconn.Draft
	if got := fromIMAP(all); got != "DFRST" {
		t.Errorf("fromIMAP = %q", got)
	}
	if back := toIMAP("DFRST"); back != all {
		t.Errorf("toIMAP = %v", back)
	}
	if fromIMAP(imapconn.Seen|imapconn.Flagged) != "FS" || toIMAP("RT") != imapconn.Answered|imapconn.Deleted {
		t.Error("fromIMAP/toIMAP of single flags")
	}
	if synced("aDPS") != "DS" || localOnly("aDPS") != "aP" {
		t.Errorf("synced/localOnly")
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, l := range testdataLines(t, "patterns.txt") {
		parts := strings.Split(l, ";")
		if len(parts) != 3 {
			t.Fatalf("bad testdata line %q", l)
		}
		pats := strings.Split(strings.TrimSpace(parts[0]), "|")
		if pats[0] == "default" {
			pats = nil
		}
		path := strings.Split(strings.TrimSpace(parts[1]), "/")
		want := strings.TrimSpace(parts[2]) == "yes"
		if got := selected(pats, path); got != want {
			t.Errorf("selected(%q, %q) = %v, want %v", pats, path, got, want)
		}
	}
}

func TestCRLFSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for content, want := range map[string]int64{
		"":            0,
		"a\n":         3,
		"a\r\n":       3,
		"a\nb\r\nc\n": 9,
		"\n\n":        4,
		"x\r":         2,
		strings.Repeat("y", 70000) + "\n" + strings.Repeat("z", 65535) + "\r\n": 70000 + 2 + 65535 + 2,
	} {
		p := filepath.Join(dir, "m")
		os.WriteFile(p, []byte(content), 0o600)
		if got, err := fileMatchKey(p); err != nil || got.Size != want {
			t.Errorf("fileMatchKey(%q…).Size = %d, %v; want %d", truncate(content, 10), got.Size, err, want)
		}
	}
}

func TestUniqueCore(t *testing.T) {
	t.Parallel()
	ix := newLocalIndex([]maildir.Entry{{Unique: "123.M1P2Q3R44.host,S=10,W=12", Path: "/x"}})
	if _, ok := ix.find("123.M1P2Q3R44.host,S=10"); !ok {
		t.Error("a name with rewritten fields was not found")
	}
	if _, ok := ix.find("123.M1P2Q3R45.host,S=10"); ok {
		t.Error("another message was found")
	}
}

func TestHeaderMessageID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Message-ID: <a@b>\r\n\r\n":              "a@b",
		"message-id:\r\n  <a@b>\r\nX: y\r\n\r\n": "a@b",
		"Subject: x\n\nbody":                     "",
		"garbage":                                "",
	} {
		if got := headerMessageID(strings.NewReader(in)); got != want {
			t.Errorf("headerMessageID(%q) = %q, want %q", in, got, want)
		}
	}
	if mdaUniqueFor("<a@b>") != mdaUniqueFor("a@b") || mdaUniqueFor("") != mdaUnique || !isMDAUnique(mdaUniqueFor("x")) {
		t.Error("mdaUniqueFor")
	}
}
