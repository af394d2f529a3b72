package fetch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// stateCases reads testdata/state/*.txtar: each has a "journal" (records,
// one a line, as written by hand for its version), the replayed "state"
// (see dumpState) or the "error" that refuses it, and the "compacted"
// journal that keeps every UIDL; bad-records has "good" and "bad" records
// instead (TestStateDamaged).
func stateCases(t testing.TB) map[string]*txtar.Archive {
	t.Helper()
	files, err := filepath.Glob("testdata/state/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no state cases: %v", err)
	}
	cases := map[string]*txtar.Archive{}
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".txtar")] = a
	}
	return cases
}

func section(a *txtar.Archive, name string) []byte {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

func splitRecords(data []byte) [][]byte {
	var recs [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) > 0 {
			recs = append(recs, l)
		}
	}
	return recs
}

// dumpState renders a state for comparison: one line per UIDL, sorted,
// "uidl done first" or "uidl pending first unique...", after "bound ID"
// when the state names its Maildir.
func dumpState(st *uidlState) string {
	var lines []string
	for u, e := range st.entries {
		if e.done {
			lines = append(lines, fmt.Sprintf("%s done %d", maildir.EncodeField(u), e.first.Unix()))
		} else {
			var us []string
			for _, p := range e.pending {
				us = append(us, maildir.EncodeField(p))
			}
			lines = append(lines, fmt.Sprintf("%s pending %d %s", maildir.EncodeField(u), e.first.Unix(), strings.Join(us, " ")))
		}
	}
	sort.Strings(lines)
	if st.bound != "" {
		lines = append([]string{"bound " + st.bound}, lines...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeState writes recs, framed, as the state journal in a new
// directory, which it returns.
func writeState(t testing.TB, recs [][]byte) string {
	t.Helper()
	dir := t.TempDir()
	j, _, err := maildir.OpenJournal(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(recs...); err != nil {
		t.Fatal(err)
	}
	j.Close()
	return dir
}

// readStateReadOnly replays the state journal in dir as a dry run does.
func readStateReadOnly(dir string) (*uidlState, error) {
	l, st, err := openState(dir, true)
	if err != nil {
		return nil, err
	}
	l.Close()
	return st, nil
}

// compactState compacts the journal in dir as a run does at its end and
// returns the records it then holds.
func compactState(t testing.TB, dir string) [][]byte {
	t.Helper()
	l, st, err := openState(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Rewrite(st.compacted(func(string) bool { return true })); err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs, err := maildir.ReadJournal(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestStateReplay reads journals of every version written by hand: each
// case replays to its "state" (or fails with its "error") and compacts
// to its "compacted" journal, which replays to the same done entries,
// bound to the same Maildir.
func TestStateReplay(t *testing.T) {
	t.Parallel()
	for name, a := range stateCases(t) {
		if section(a, "journal") == nil {
			continue // not a replay case
		}
		t.Run(name, func(t *testing.T) {
			dir := writeState(t, splitRecords(section(a, "journal")))
			st, err := readStateReadOnly(dir)
			if want := section(a, "error"); want != nil {
				if err == nil || failure.KindOf(err) != failure.LocalIO || !strings.Contains(err.Error(), strings.TrimSpace(string(want))) {
					t.Errorf("got %v, want a LocalIO error saying %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dumpState(st), string(section(a, "state")); got != want {
				t.Errorf("state:\n%s\nwant:\n%s", got, want)
			}
			comp := compactState(t, dir)
			if got, want := string(bytes.Join(comp, []byte("\n")))+"\n", string(section(a, "compacted")); got != want {
				t.Errorf("compacted:\n%s\nwant:\n%s", got, want)
			}
			again, err := readStateReadOnly(dir)
			if err != nil {
				t.Fatal(err)
			}
			if again.bound != st.bound {
				t.Errorf("compaction bound the state to %q, was %q", again.bound, st.bound)
			}
			for u, e := range st.entries {
				if !e.done {
					continue
				}
				if g := again.entries[u]; g == nil || !g.done || !g.first.Equal(e.first) {
					t.Errorf("UIDL %q lost or changed by compaction", u)
				}
			}
		})
	}
}

// TestStateDamaged: a record that does not parse, anywhere in the
// journal, refuses the state with failure.LocalIO, one line naming the
// file, the record and what to do, and leaves the file alone. (Versions
// 1 and 2 skipped such records with a notice.)
func TestStateDamaged(t *testing.T) {
	t.Parallel()
	a := stateCases(t)["bad-records"]
	good := splitRecords(section(a, "good"))
	for _, bad := range splitRecords(section(a, "bad")) {
		recs := append(append(append([][]byte(nil), good...), bad), []byte("D ok2 1700000001"))
		dir := writeState(t, recs)
		path := filepath.Join(dir, stateFile)
		before, _ := os.ReadFile(path)
		for _, dry := range []bool{true, false} {
			_, _, err := openState(dir, dry)
			want := fmt.Sprintf("pop3 state %s is damaged (record %d: ", path, len(good)+1)
			if err == nil || failure.KindOf(err) != failure.LocalIO || !strings.HasPrefix(err.Error(), want) ||
				!strings.Contains(err.Error(), "move it away and run again") || strings.Contains(err.Error(), "\n") {
				t.Errorf("record %q (dry %v): got %v, want a LocalIO error starting %q", bad, dry, err, want)
			}
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("record %q: the damaged state was changed", bad)
		}
	}
}

func TestStateReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A missing directory is an empty state, and nothing gets created.
	st, err := readStateReadOnly(filepath.Join(dir, "none"))
	if err != nil || len(st.entries) != 0 {
		t.Fatalf("missing dir: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Fatalf("dry state read created something: %v", err)
	}
	// Records written by maildir.Journal read back; a torn last record
	// (no newline) is ignored, and the file is left as it was.
	path := filepath.Join(dir, stateFile)
	j, _, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("V 1"), []byte("D a 1700000000")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("01234567 D b 17000")
	f.Close()
	data, _ := os.ReadFile(path)
	st, err = readStateReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.isDone("a") || st.isDone("b") {
		t.Errorf("got %s", dumpState(st))
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Errorf("read-only read changed the file")
	}
	// Damage before the last record is an error, as for OpenJournal.
	if err := os.WriteFile(path, append([]byte("garbage\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readStateReadOnly(dir); err == nil {
		t.Errorf("corrupt journal read without error")
	}
}

func TestFieldEscape(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a", "%", "a b", "\x00", "é", "~!", "%41", "x\ny", strings.Repeat("z", 70)} {
		enc := maildir.EncodeField(s)
		if strings.ContainsAny(enc, " \n\r\t") {
			t.Errorf("maildir.EncodeField(%q) = %q has a separator", s, enc)
		}
		dec, err := maildir.DecodeField(enc)
		if err != nil || dec != s {
			t.Errorf("maildir.DecodeField(maildir.EncodeField(%q)) = %q, %v", s, dec, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Unix(1700000000, 0)
	for _, r := range []record{
		{Kind: recVersion, Version: 1},
		{Kind: recBound, ID: "0123456789abcdef0123456789abcdef"},
		{Kind: recPending, UIDL: "u 1", Unique: "1.M2P3Q4R5.h\\072x,S=9", Time: ts},
		{Kind: recPending, UIDL: "u", Unique: mdaUnique, Time: ts},
		{Kind: recDone, UIDL: "%", Time: ts},
		{Kind: recGone, UIDL: "abc"},
	} {
		got, err := parseRecord(r.format())
		if err != nil {
			t.Fatalf("%q: %v", r.format(), err)
		}
		if got.Kind != r.Kind || got.UIDL != r.UIDL || got.Unique != r.Unique || !got.Time.Equal(r.Time) || got.Version != r.Version || got.ID != r.ID {
			t.Errorf("round trip of %+v gave %+v", r, got)
		}
	}
}

// FuzzParseRecord checks that the parser never panics, that whatever it
// accepts formats back to the very same bytes (one spelling per record, so
// a record can never be read two ways), and that no accepted field holds a
// separator.
func FuzzParseRecord(f *testing.F) {
	for _, a := range stateCases(f) {
		for _, name := range []string{"journal", "good", "bad"} {
			for _, r := range splitRecords(section(a, name)) {
				f.Add(r)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseRecord(line)
		if err != nil {
			return
		}
		if out := r.format(); !bytes.Equal(out, line) {
			t.Fatalf("parse(%q) formats as %q", line, out)
		}
		st := newState()
		st.apply(r)
		for _, rec := range st.compacted(func(string) bool { return true }) {
			if bytes.ContainsAny(rec, "\n\r") {
				t.Fatalf("compacted record %q has a line break", rec)
			}
			if _, err := parseRecord(rec); err != nil {
				t.Fatalf("compacted record %q does not parse: %v", rec, err)
			}
		}
	})
}

// replay builds a state from records that parse, in order, without a
// journal file.
func replay(recs [][]byte) *uidlState {
	st := newState()
	for _, line := range recs {
		r, err := parseRecord(line)
		if err != nil {
			panic(err)
		}
		st.apply(r)
	}
	return st
}
