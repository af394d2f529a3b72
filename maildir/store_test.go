package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // makes dir what the case needs
		wantErr string                         // "" = opens
		kind    failure.Kind
	}{
		{name: "missing, with missing parents", setup: func(t *testing.T, dir string) {}},
		{name: "empty directory", setup: func(t *testing.T, dir string) { mkdir(t, dir) }},
		{name: "a Maildir", setup: func(t *testing.T, dir string) {
			for _, s := range []string{"tmp", "new", "cur"} {
				mkdir(t, filepath.Join(dir, s))
			}
			writeFile(t, filepath.Join(dir, "dovecot-uidlist"), "x")
		}},
		{name: "a Maildir without tmp", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "new"))
			mkdir(t, filepath.Join(dir, "cur"))
			writeFile(t, filepath.Join(dir, "subscriptions"), "x")
		}},
		{name: "half created", setup: func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "cur")) }},
		{name: "a file", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Dir(dir))
			writeFile(t, dir, "not a dir")
		}, wantErr: "is a file, not a Maildir", kind: failure.LocalIO},
		{name: "a directory of other things", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "Documents"))
			writeFile(t, filepath.Join(dir, "notes.txt"), "x")
		}, wantErr: "is not a Maildir", kind: failure.LocalIO},
		{name: "other things and a tmp", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "tmp"))
			writeFile(t, filepath.Join(dir, ".bashrc"), "x")
		}, wantErr: "is not a Maildir", kind: failure.LocalIO},
		{name: "new is a file", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "cur"))
			writeFile(t, filepath.Join(dir, "new"), "x")
		}, wantErr: "not a usable Maildir", kind: failure.LocalIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "b", "Maildir")
			tt.setup(t, dir)
			before := listTree(t, filepath.Dir(dir))
			s, err := Open(dir, LayoutMaildirPP)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("Open: %v, want an error naming %s that says %q", err, dir, tt.wantErr)
				}
				if k := failure.KindOf(err); k != tt.kind {
					t.Errorf("kind %v, want %v", k, tt.kind)
				}
				if after := listTree(t, filepath.Dir(dir)); !slices.Equal(before, after) {
					t.Errorf("a refused Open changed the tree:\n%q\n%q", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Root() != dir {
				t.Errorf("Root() = %q", s.Root())
			}
			for _, sub := range []string{"tmp", "new", "cur"} {
				assertMode(t, filepath.Join(dir, sub), os.ModeDir|0o700)
			}
		})
	}
}

func TestOpenPermissionDenied(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root is not denied")
	}
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(parent, 0o700) })
	_, err := Open(filepath.Join(parent, "Maildir"), LayoutMaildirPP)
	if err == nil || failure.KindOf(err) != failure.LocalIO {
		t.Fatalf("Open under a read-only dir: %v (kind %v), want a LocalIO error", err, failure.KindOf(err))
	}
}

func TestOpenRelativeAndLayout(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := Open("Mail", LayoutFS)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Root()) {
		t.Errorf("Root() = %q, not absolute", s.Root())
	}
	if _, err := Open("x", Layout(7)); failure.KindOf(err) != failure.Usage {
		t.Errorf("Open with a bad layout: %v", err)
	}
	if _, err := Open("", LayoutFS); failure.KindOf(err) != failure.Usage {
		t.Errorf("Open(\"\"): %v", err)
	}
	for in, want := range map[string]Layout{"maildir++": LayoutMaildirPP, "": LayoutMaildirPP, "FS": LayoutFS, " fs ": LayoutFS} {
		if got, err := ParseLayout(in); err != nil || got != want {
			t.Errorf("ParseLayout(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLayout("mbox"); err == nil || failure.KindOf(err) != failure.Usage {
		t.Errorf("ParseLayout(mbox): %v", err)
	}
}

func TestFolderCreate(t *testing.T) {
	t.Parallel()
	for _, layout := range []Layout{LayoutMaildirPP, LayoutFS} {
		t.Run(layout.String(), func(t *testing.T) {
			s := openStore(t, layout)
			f, err := s.Folder([]string{"Archive", "2024"})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := s.FolderDir([]string{"Archive", "2024"})
			if f.Dir() != want {
				t.Errorf("Dir() = %q, want %q", f.Dir(), want)
			}
			assertMode(t, f.Dir(), os.ModeDir|0o700)
			for _, sub := range []string{"tmp", "new", "cur"} {
				assertMode(t, filepath.Join(f.Dir(), sub), os.ModeDir|0o700)
			}
			marker := filepath.Join(f.Dir(), "maildirfolder")
			if layout == LayoutMaildirPP {
				assertMode(t, marker, 0o600)
				if fi, _ := os.Stat(marker); fi.Size() != 0 {
					t.Error("maildirfolder not empty")
				}
			} else if _, err := os.Stat(marker); err == nil {
				t.Error("maildirfolder in the fs layout")
			}
			again, err := s.Folder([]string{"Archive", "2024"})
			if err != nil || again != f {
				t.Errorf("second Folder: %p, %v; want the same *Folder %p", again, err, f)
			}
			inbox, err := s.Folder(nil)
			if err != nil || inbox.Dir() != s.Root() {
				t.Fatalf("Folder(nil) = %v, %v", inbox, err)
			}
			if i2, _ := s.Folder([]string{"inbox"}); i2 != inbox {
				t.Error(`Folder(["inbox"]) is not the root`)
			}
			if _, err := s.Folder([]string{"a", ".."}); err == nil {
				t.Error(`Folder(["a", ".."]) did not fail`)
			}
		})
	}
}

func TestFolderRefusesNonMaildir(t *testing.T) {
	t.Parallel()
	s := openStore(t, LayoutMaildirPP)
	dir, _ := s.FolderDir([]string{"Notes"})
	writeFile(t, dir, "a file")
	if _, err := s.Folder([]string{"Notes"}); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("Folder over a file: %v", err)
	}
	dir, _ = s.FolderDir([]string{"Stuff"})
	writeFile(t, filepath.Join(dir, "README"), "x")
	if _, err := s.Folder([]string{"Stuff"}); err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Errorf("Folder over a non-Maildir: %v", err)
	}
}

func TestFolders(t *testing.T) {
	t.Parallel()
	for _, layout := range []Layout{LayoutMaildirPP, LayoutFS} {
		t.Run(layout.String(), func(t *testing.T) {
			s := openStore(t, layout)
			paths := [][]string{
				{"Archive"}, {"Archive", "2024"}, {"a.b", "c/d"}, {"Entwürfe"}, {"new"}, {"100%"}, {"INBOX", "Sub"},
			}
			for _, p := range paths {
				if _, err := s.Folder(p); err != nil {
					t.Fatal(err)
				}
			}
			// Things that are not folders of this store.
			switch layout {
			case LayoutMaildirPP:
				mkdir(t, filepath.Join(s.Root(), ".%41bc", "cur"))  // not canonical ("Abc" is written plainly)
				mkdir(t, filepath.Join(s.Root(), ".%zz", "cur"))    // does not decode
				mkdir(t, filepath.Join(s.Root(), ".NoMaildir"))     // no cur/ or new/
				writeFile(t, filepath.Join(s.Root(), ".file"), "x") // a file
				mkdir(t, filepath.Join(s.Root(), ".INBOX", "cur"))  // INBOX is the root
				mkdir(t, filepath.Join(s.Root(), ".INBOX", "new"))  //
			case LayoutFS:
				mkdir(t, filepath.Join(s.Root(), "%41bc", "cur"))
				mkdir(t, filepath.Join(s.Root(), ".hidden", "cur"))
				mkdir(t, filepath.Join(s.Root(), "Plain"))
			}
			got, err := s.Folders()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"INBOX"}, {"100%"}, {"Archive"}, {"Archive", "2024"}, {"Entwürfe"}, {"INBOX", "Sub"}, {"a.b"}, {"a.b", "c/d"}, {"new"}}
			if layout == LayoutMaildirPP {
				// Maildir++ parents exist only when created; in fs each
				// parent is a Maildir (INBOX/ too, but it is not INBOX).
				want = slices.DeleteFunc(want, func(p []string) bool { return len(p) == 1 && p[0] == "a.b" })
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("Folders() =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// helpers

func openStore(t testing.TB, layout Layout) *Store {
	t.Helper()
	s, err := openAt(t, filepath.Join(t.TempDir(), "Maildir"), layout)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openInbox(t testing.TB) *Folder {
	t.Helper()
	f, err := openStore(t, LayoutMaildirPP).Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertMode(t testing.TB, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeType | os.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// listTree lists the paths below dir (or nil when dir does not exist).
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// names lists the file names in dir.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
