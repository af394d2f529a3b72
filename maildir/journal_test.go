package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalCases(t *testing.T) {
	t.Parallel()
	for _, row := range readTable(t, "journal/cases.txt") {
		t.Run(row[0], func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "journal", row[0]))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "state.journal")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			j, recs, openErr := OpenJournal(path)
			var want int
			if _, err := fmt.Sscanf(row[1], "error line %d", &want); err == nil {
				if err := checkCorrupt(path, data, j, openErr, want); err != nil {
					t.Error(err)
				}
				return
			}
			if _, err := fmt.Sscanf(row[1], "records %d", &want); err != nil {
				t.Fatalf("bad case %q", row)
			}
			if err := openErr; err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if len(recs) != want {
				t.Errorf("%d records %q, want %d", len(recs), recs, want)
			}
			assertJournalFile(t, path, recs)
		})
	}
}

// checkCorrupt checks OpenJournal's answer to a journal damaged before its
// last record: an error naming the file and line, and the file untouched.
func checkCorrupt(path string, data []byte, j *Journal, err error, line int) error {
	if err == nil {
		j.Close()
		return fmt.Errorf("OpenJournal succeeded, want an error for line %d", line)
	}
	if want := fmt.Sprintf("journal %s: line %d:", path, line); !strings.Contains(err.Error(), want) {
		return fmt.Errorf("error %q does not say %q", err, want)
	}
	if ce := (*CorruptError)(nil); !errors.As(err, &ce) || ce.Line != line {
		return fmt.Errorf("error %q does not hold a CorruptError of line %d", err, line)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		return fmt.Errorf("a corrupt journal was changed")
	}
	return nil
}

// assertJournalFile checks that the journal file holds exactly recs, well
// formed: nothing torn is left to follow.
func assertJournalFile(t *testing.T, path string, recs [][]byte) {
	t.Helper()
	want, err := appendRecords(nil, recs)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("journal file holds %q, want %q", got, want)
	}
}

func TestJournalAppendReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	j, recs, err := OpenJournal(path)
	if err != nil || len(recs) != 0 {
		t.Fatalf("new journal: %q, %v", recs, err)
	}
	assertMode(t, path, 0o600)
	want := [][]byte{[]byte("pending 1 u1"), []byte(""), []byte("done 1"), []byte("ütf-8 \x00 \r bytes")}
	if err := j.Append(want[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(want[2:]...); err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("ok"), []byte("two\nlines")); err == nil {
		t.Error("Append of a record with a newline succeeded")
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("late")); err == nil {
		t.Error("Append after Close succeeded")
	}
	j, recs, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !equalRecords(recs, want) {
		t.Errorf("reopened: %q, want %q", recs, want)
	}
}

// TestJournalTornTail cuts the journal at every byte offset of its last
// record: the records before it survive, the torn one is cut away, and an
// append after it reads back well.
func TestJournalTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	first := [][]byte{[]byte("pending 1 1700000000.M1P1Q1R00.host,S=10"), []byte("done 1")}
	last := []byte("pending 2 1700000001.M2P1Q2R00.host,S=20")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(append(first, last)...); err != nil {
		t.Fatal(err)
	}
	j.Close()
	full, _ := os.ReadFile(path)
	start := len(full) - (len(last) + 10)
	for cut := start; cut <= len(full); cut++ {
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j, recs, err := OpenJournal(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		want := first
		if cut == len(full) {
			want = append(first[:2:2], last)
		}
		if !equalRecords(recs, want) {
			t.Fatalf("cut at %d: %q, want %q", cut, recs, want)
		}
		if err := j.Append([]byte("after")); err != nil {
			t.Fatal(err)
		}
		j.Close()
		j, recs, err = OpenJournal(path)
		if err != nil {
			t.Fatalf("cut at %d, appended: %v", cut, err)
		}
		j.Close()
		if !equalRecords(recs, append(want[:len(want):len(want)], []byte("after"))) {
			t.Fatalf("cut at %d, appended: %q", cut, recs)
		}
	}
	// A corrupt (not torn) last record is cut too.
	bad := append(bytes.Clone(full[:start]), []byte("0badf00d pending 2 x\n")...)
	os.WriteFile(path, bad, 0o600)
	j, recs, err := OpenJournal(path)
	if err != nil || !equalRecords(recs, first) {
		t.Fatalf("corrupt last record: %q, %v", recs, err)
	}
	j.Close()
	assertJournalFile(t, path, first)
}

func TestJournalRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 100 {
		if err := j.Append([]byte(fmt.Sprintf("pending %d", i)), []byte(fmt.Sprintf("done %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	compact := [][]byte{[]byte("uidvalidity 7"), []byte("last 99")}
	if err := j.Rewrite(append(compact, []byte("bad\nrecord"))); err == nil {
		t.Error("Rewrite with a newline succeeded")
	}
	if err := j.Rewrite(compact); err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("pending 100")); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	_, recs, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(compact, []byte("pending 100")); !equalRecords(recs, want) {
		t.Errorf("after Rewrite: %q, want %q", recs, want)
	}
	assertMode(t, path, 0o600)
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("directory holds %q", n)
	}
}

// FuzzJournal opens arbitrary journal files: either an error that leaves
// the file as it was, or records such that the file now holds exactly
// them and an append reads back after them.
func FuzzJournal(f *testing.F) {
	for _, row := range readTable(f, "journal/cases.txt") {
		data, err := os.ReadFile(filepath.Join("testdata", "journal", row[0]))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, recs, err := OpenJournal(path)
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatal("a journal that failed to open was changed")
			}
			return
		}
		assertJournalFile(t, path, recs)
		if err := j.Append([]byte("next")); err != nil {
			t.Fatal(err)
		}
		j.Close()
		j, again, err := OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		if !equalRecords(again, append(recs, []byte("next"))) {
			t.Fatalf("after append: %q, want %q + next", again, recs)
		}
	})
}

func equalRecords(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := WriteFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("holds %q, want %q", got, content)
		}
		assertMode(t, path, 0o600)
	}
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("temporary files left: %q", n)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("WriteFileAtomic into a missing directory succeeded")
	}
}

// A replace killed before its rename leaves a hidden temporary file;
// RemoveStaleTemps removes such files once they are old, and nothing else.
func TestRemoveStaleTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.journal")
	if err := WriteFileAtomic(path, []byte("data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp, f, err := createTemp(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	keep := []string{path, filepath.Join(dir, ".x.journal.tmp-short"), filepath.Join(dir, "y.tmp-0123456789ab"), filepath.Join(dir, ".z.tmp-0123456789xy")}
	for _, p := range keep[1:] {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range append([]string{tmp}, keep...) {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	fresh, f2, err := createTemp(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f2.Close()
	if n, err := RemoveStaleTemps(dir, StaleTempAge); n != 1 || err != nil {
		t.Errorf("RemoveStaleTemps = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale %s still there: %v", tmp, err)
	}
	for _, p := range append(keep, fresh) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
