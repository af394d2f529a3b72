package maildir

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeFolderElem(t *testing.T) {
	t.Parallel()
	for _, row := range readTable(t, "folders.txt") {
		name, pp, fsForm := row[0], row[1], row[2]
		if got := EscapeFolderElem(name); got != pp {
			t.Errorf("EscapeFolderElem(%q) = %q, want %q", name, got, pp)
		}
		if got := escapeFSElem(name); got != fsForm {
			t.Errorf("escapeFSElem(%q) = %q, want %q", name, got, fsForm)
		}
		for _, esc := range []string{pp, fsForm} {
			if got, err := UnescapeFolderElem(esc); err != nil || got != name {
				t.Errorf("UnescapeFolderElem(%q) = %q, %v; want %q", esc, got, err, name)
			}
		}
	}
}

func TestUnescapeFolderElemErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"%", "a%2", "%G0", "%0g", "x%%"} {
		if got, err := UnescapeFolderElem(s); err == nil {
			t.Errorf("UnescapeFolderElem(%q) = %q, want an error", s, got)
		}
	}
	if got, err := UnescapeFolderElem("%2e%2E"); err != nil || got != ".." {
		t.Errorf("lower-case hex: %q, %v", got, err)
	}
}

func TestFolderDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stores := map[string]*Store{}
	for _, l := range []Layout{LayoutMaildirPP, LayoutFS} {
		s, err := Open(filepath.Join(root, l.String()), l)
		if err != nil {
			t.Fatal(err)
		}
		stores[l.String()] = s
	}
	for _, row := range readTable(t, "folderdirs.txt") {
		s := stores[row[0]]
		var path []string
		if row[1] != "" {
			path = strings.Split(row[1], " > ")
		}
		got, err := s.FolderDir(path)
		if row[2] == "error" {
			if err == nil {
				t.Errorf("%s: FolderDir(%q) = %q, want an error", row[0], path, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: FolderDir(%q): %v", row[0], path, err)
			continue
		}
		if want := filepath.Join(s.Root(), row[2]); got != want {
			t.Errorf("%s: FolderDir(%q) = %q, want %q", row[0], path, got, want)
		}
	}
}

// FuzzFolderEscape checks that both escapings are reversible, produce
// names that cannot break out of their place, and that FolderDir stays
// below the root.
func FuzzFolderEscape(f *testing.F) {
	for _, row := range readTable(f, "folders.txt") {
		f.Add(row[0])
		f.Add(row[1])
	}
	root := f.TempDir()
	pp, err := Open(filepath.Join(root, "pp"), LayoutMaildirPP)
	if err != nil {
		f.Fatal(err)
	}
	fsStore, err := Open(filepath.Join(root, "fs"), LayoutFS)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		esc := EscapeFolderElem(name)
		if got, err := UnescapeFolderElem(esc); err != nil || got != name {
			t.Fatalf("UnescapeFolderElem(EscapeFolderElem(%q) = %q) = %q, %v", name, esc, got, err)
		}
		if strings.ContainsAny(esc, "./\x00") || !utf8.ValidString(esc) {
			t.Fatalf("EscapeFolderElem(%q) = %q", name, esc)
		}
		fsEsc := escapeFSElem(name)
		if got, err := UnescapeFolderElem(fsEsc); err != nil || got != name {
			t.Fatalf("UnescapeFolderElem(escapeFSElem(%q) = %q) = %q, %v", name, fsEsc, got, err)
		}
		if strings.ContainsAny(fsEsc, "/\x00") || strings.HasPrefix(fsEsc, ".") || !utf8.ValidString(fsEsc) {
			t.Fatalf("escapeFSElem(%q) = %q", name, fsEsc)
		}
		for _, r := range []string{"tmp", "new", "cur"} {
			if strings.EqualFold(fsEsc, r) {
				t.Fatalf("escapeFSElem(%q) = %q", name, fsEsc)
			}
		}
		// An escaped name that decodes must encode back the same way when
		// it is canonical: Folders relies on that to skip foreign names.
		if dec, err := UnescapeFolderElem(name); err == nil && EscapeFolderElem(dec) == name {
			if got, _ := UnescapeFolderElem(EscapeFolderElem(dec)); got != dec {
				t.Fatalf("%q: not stable", name)
			}
		}
		for _, s := range []*Store{pp, fsStore} {
			for _, path := range [][]string{{name}, {"a", name}, {name, name}} {
				dir, err := s.FolderDir(path)
				if err != nil {
					continue
				}
				rel, err := filepath.Rel(s.Root(), dir)
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					t.Fatalf("%v: FolderDir(%q) = %q, outside the root", s.Layout(), path, dir)
				}
				if rel != "." {
					for _, e := range strings.Split(rel, "/") {
						if e == "tmp" || e == "new" || e == "cur" || e == "." || e == ".." {
							t.Fatalf("%v: FolderDir(%q) = %q", s.Layout(), path, dir)
						}
					}
				} else if !isInbox(path) {
					t.Fatalf("%v: FolderDir(%q) is the root", s.Layout(), path)
				}
			}
		}
	})
}
