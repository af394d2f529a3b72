package maildir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFindScan(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	ctx := context.Background()
	a, err := f.Deliver(ctx, strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Deliver(ctx, strings.NewReader(testMsg), StageOptions{Flags: "S"})
	if err != nil {
		t.Fatal(err)
	}
	// Written by other programs: with '!' as separator, with info in new/,
	// hidden, and with a name that is no message.
	bang := filepath.Join(f.Dir(), "cur", "1.M1P1.other!2,FS")
	newInfo := filepath.Join(f.Dir(), "new", "2.M2P2.other:2,")
	// A reader that rewrote the Maildir++ fields after the first ','.
	rewritten := filepath.Join(f.Dir(), "cur", "4.M4P4.other,S=10,W=12:2,S")
	writeFile(t, bang, "x")
	writeFile(t, newInfo, "x")
	writeFile(t, rewritten, "x")
	writeFile(t, filepath.Join(f.Dir(), "cur", ".hidden:2,S"), "x")

	tests := []struct {
		unique, want string
	}{
		{a.Unique(), a.Path()},
		{b.Unique(), b.Path()},
		{"1.M1P1.other", bang},
		{"2.M2P2.other", newInfo},
		{"3.M3P3.missing", ""},
		{a.Unique()[:10], ""}, // a prefix is not the name
		{"4.M4P4.other,S=10", rewritten},
		{"4.M4P4.other", rewritten},
		{"4.M4P4.othe,S=10", ""},
	}
	for _, tt := range tests {
		got, ok, err := f.Find(tt.unique)
		if err != nil || ok != (tt.want != "") || got.Path != tt.want {
			t.Errorf("Find(%q) = %q, %v, %v; want %q", tt.unique, got.Path, ok, err, tt.want)
		}
	}
	for _, bad := range []string{"", "a/b", "x\x00", "x:2,S"} {
		if _, _, err := f.Find(bad); err == nil {
			t.Errorf("Find(%q) did not fail", bad)
		}
	}

	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range entries {
		got[e.Unique] = e
	}
	want := map[string]Entry{
		a.Unique():               {a.Unique(), a.Path(), "", true},
		b.Unique():               {b.Unique(), b.Path(), "S", false},
		"1.M1P1.other":           {"1.M1P1.other", bang, "FS", false},
		"2.M2P2.other":           {"2.M2P2.other", newInfo, "", true},
		"4.M4P4.other,S=10,W=12": {"4.M4P4.other,S=10,W=12", rewritten, "S", false},
	}
	if len(got) != len(want) || len(entries) != len(want) {
		t.Errorf("Scan() = %+v", entries)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Scan(): %+v, want %+v", got[k], w)
		}
	}
}

func TestSetFlags(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	st, err := f.Deliver(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.SetFlags(st.Path(), "SR")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.Dir(), "cur", st.Unique()+":2,RS"); p != want {
		t.Errorf("SetFlags = %q, want %q", p, want)
	}
	if p2, err := f.SetFlags(p, "RS"); err != nil || p2 != p {
		t.Errorf("SetFlags to the same flags = %q, %v", p2, err)
	}
	p3, err := f.SetFlags(p, "")
	if err != nil || p3 != filepath.Join(f.Dir(), "cur", st.Unique()+":2,") {
		t.Errorf("SetFlags to no flags = %q, %v", p3, err)
	}
	assertFiles(t, f, 0, 0, 1)

	// Renamed meanwhile by a mail client.
	if _, err := f.SetFlags(p, "T"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("SetFlags of a renamed file: %v", err)
	}
	// Other info kept after the flags; an experimental info replaced.
	ext := filepath.Join(f.Dir(), "cur", "9.M9P9.other:2,S,X=1")
	writeFile(t, ext, "x")
	if p, err := f.SetFlags(ext, "FS"); err != nil || filepath.Base(p) != "9.M9P9.other:2,FS,X=1" {
		t.Errorf("SetFlags keeps the extension: %q, %v", p, err)
	}
	exp := filepath.Join(f.Dir(), "new", "8.M8P8.other:1,weird")
	writeFile(t, exp, "x")
	if p, err := f.SetFlags(exp, "S"); err != nil || filepath.Base(p) != "8.M8P8.other:2,S" {
		t.Errorf("SetFlags over an experimental info: %q, %v", p, err)
	}
	// Never replaces a file.
	x := filepath.Join(f.Dir(), "new", "7.M7P7.x")
	y := filepath.Join(f.Dir(), "cur", "7.M7P7.x:2,S")
	writeFile(t, x, "new copy")
	writeFile(t, y, "cur copy")
	if _, err := f.SetFlags(x, "S"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("SetFlags onto an existing name: %v", err)
	}
	if b, _ := os.ReadFile(y); string(b) != "cur copy" {
		t.Error("SetFlags replaced a file")
	}
	// Only files of the folder.
	for _, bad := range []string{filepath.Join(f.Dir(), "tmp", "x"), "/etc/passwd", filepath.Join(f.Dir(), "cur")} {
		if _, err := f.SetFlags(bad, "S"); err == nil {
			t.Errorf("SetFlags(%q) did not fail", bad)
		}
		if err := f.Remove(bad); err == nil {
			t.Errorf("Remove(%q) did not fail", bad)
		}
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	st, err := f.Deliver(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(st.Path()); err != nil {
		t.Fatal(err)
	}
	assertFiles(t, f, 0, 0, 0)
	if err := f.Remove(st.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of a missing file: %v", err)
	}
}

func TestCleanTmp(t *testing.T) {
	t.Parallel()
	s := openStore(t, LayoutMaildirPP)
	dir, _ := s.FolderDir([]string{"Old"})
	// Leftovers of a crash before the folder is opened; a directory in
	// tmp/ is not ours to remove.
	writeFile(t, filepath.Join(dir, "tmp", "1.M1P1.crashed"), "partial")
	mkdir(t, filepath.Join(dir, "tmp", "somedir"))
	mkdir(t, filepath.Join(dir, "cur"))
	mkdir(t, filepath.Join(dir, "new"))
	f, err := s.Folder([]string{"Old"})
	if err != nil {
		t.Fatal(err)
	}
	// Fresh: the folder's first opening kept it.
	if n := names(t, filepath.Join(dir, "tmp")); len(n) != 2 {
		t.Fatalf("tmp/ holds %q", n)
	}
	if n, err := f.CleanTmp(time.Hour); err != nil || n != 0 {
		t.Errorf("CleanTmp(1h) = %d, %v", n, err)
	}
	// The change time cannot be set back; a zero age makes it stale.
	if n, err := f.CleanTmp(0); err != nil || n != 1 {
		t.Errorf("CleanTmp(0) = %d, %v", n, err)
	}
	if n := names(t, filepath.Join(dir, "tmp")); len(n) != 1 || n[0] != "somedir" {
		t.Errorf("tmp/ holds %q", n)
	}
}
