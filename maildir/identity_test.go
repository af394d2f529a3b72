package maildir

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestFolderIdentity(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "Mail")
	if id, err := ReadID(root); err != nil || id != "" {
		t.Fatalf("ReadID of a missing folder = %q, %v; want none", id, err)
	}
	s, err := Open(root, LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := ReadID(root); err != nil || id != "" {
		t.Fatalf("a folder has no identity before ID: got %q, %v", id, err)
	}
	id, err := inbox.ID()
	if err != nil || !validID(id) {
		t.Fatalf("ID = %q, %v", id, err)
	}
	if got, err := ReadID(root); err != nil || got != id {
		t.Fatalf("ReadID = %q, %v; want %q", got, err, id)
	}
	fi, err := os.Stat(filepath.Join(root, IDFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, mode %v", err, fi.Mode())
	}
	// A second store over the same directory (another process) reads the
	// same identity; a moved folder keeps it.
	s2, _ := Open(root, LayoutMaildirPP)
	f2, _ := s2.Folder([]string{"INBOX"})
	if got, _ := f2.ID(); got != id {
		t.Fatalf("ID through another store = %q, want %q", got, id)
	}
	moved := filepath.Join(filepath.Dir(root), "Moved")
	if err := os.Rename(root, moved); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadID(moved); got != id {
		t.Fatalf("a moved folder's identity = %q, want %q", got, id)
	}
	// A folder created anew at the old path has another one.
	s3, _ := Open(root, LayoutMaildirPP)
	f3, _ := s3.Folder(nil)
	if got, _ := f3.ID(); got == id || !validID(got) {
		t.Fatalf("a new folder's identity = %q (old %q)", got, id)
	}
	// The identity file is not a folder and does not stop a Maildir from
	// being recognised.
	folders, err := s3.Folders()
	if err != nil || len(folders) != 1 {
		t.Fatalf("Folders = %v, %v", folders, err)
	}
	if err := ensureMaildir(moved, false, false); err != nil {
		t.Fatal(err)
	}
}

func TestFolderIdentityDamagedAndRaced(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, _ := Open(root, LayoutFS)
	f, _ := s.Folder([]string{"Archive"})
	if err := os.WriteFile(filepath.Join(f.Dir(), IDFile), []byte("not an id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, err := ReadID(f.Dir()); err != nil || id != "" {
		t.Fatalf("a damaged identity reads as %q, %v; want none", id, err)
	}
	id, err := f.ID()
	if err != nil || !validID(id) {
		t.Fatalf("ID over a damaged file = %q, %v", id, err)
	}
	// Many stores racing for one new folder agree on one identity.
	dir := filepath.Join(root, "race")
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir, LayoutMaildirPP)
			if err != nil {
				t.Error(err)
				return
			}
			f, _ := s.Folder(nil)
			ids[i], err = f.ID()
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(ids)
	if ids = slices.Compact(ids); len(ids) != 1 {
		t.Fatalf("racing stores gave %d identities: %v", len(ids), ids)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isTempName(e.Name()) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestMkdirAllDurable checks through the fsync seam that every directory
// that got a new entry is fsynced: each new directory and the parent of
// the highest one, so that a power cut after a complete run cannot make a
// state directory (and the journal in it) unreachable.
func TestMkdirAllDurable(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	var synced []string
	syncNewDir := func(dir string) error {
		synced = append(synced, dir)
		return syncDir(dir)
	}
	dir := filepath.Join(base, ".local", "state", "mailfetch", "work")
	if err := mkdirAllDurable(dir, 0o700, syncNewDir); err != nil {
		t.Fatal(err)
	}
	want := []string{
		dir,
		filepath.Join(base, ".local", "state", "mailfetch"),
		filepath.Join(base, ".local", "state"),
		filepath.Join(base, ".local"),
		base, // the parent of the highest new directory
	}
	if !slices.Equal(synced, want) {
		t.Fatalf("fsynced %q, want %q", synced, want)
	}
	for _, d := range want[:4] {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", d, err, fi)
		}
	}
	// An existing directory costs nothing.
	synced = nil
	if err := mkdirAllDurable(dir, 0o700, syncNewDir); err != nil || len(synced) != 0 {
		t.Fatalf("existing dir: %v, fsynced %q", err, synced)
	}
	// One new level below an existing one: it and its parent.
	synced = nil
	sub := filepath.Join(dir, "imap")
	if err := mkdirAllDurable(sub, 0o700, syncNewDir); err != nil || !slices.Equal(synced, []string{sub, dir}) {
		t.Fatalf("one level: %v, fsynced %q", err, synced)
	}
	// A file in the way is an error, not a silent success.
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirAllDurable(filepath.Join(file, "x"), 0o700); err == nil {
		t.Fatal("a path through a file must fail")
	}
}
