package maildir

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A read-only view of a Maildir that does not exist reads as empty,
// refuses every write, and creates nothing.
func TestViewMissing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "none", "Maildir")
	s, err := OpenView(root, LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{nil, {"Archive", "2024"}} {
		mb, err := s.Mailbox(path)
		if err != nil {
			t.Fatal(err)
		}
		if !mb.ReadOnly() || !s.ReadOnly() {
			t.Error("a view is not read-only")
		}
		want, _ := s.FolderDir(path)
		if mb.Dir() != want {
			t.Errorf("Dir %q, want %q", mb.Dir(), want)
		}
		checkReads(t, mb, nil)
		if id, err := mb.ID(); id != "" || err != nil {
			t.Errorf("ID of a missing folder: %q, %v", id, err)
		}
		checkRefuses(t, mb, filepath.Join(mb.Dir(), "new", "x"))
	}
	if _, err := os.Stat(filepath.Dir(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a view created something: %v", err)
	}
}

// A read-only view of a Maildir reads what a Folder reads, and writes
// nothing: not a message, not an identity.
func TestViewExisting(t *testing.T) {
	s := openStore(t, LayoutMaildirPP)
	f, err := s.Folder([]string{"Sub"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := f.Deliver(ctx, strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Deliver(ctx, strings.NewReader(testMsg), StageOptions{Flags: "FS"}); err != nil {
		t.Fatal(err)
	}
	v, err := OpenView(s.Root(), LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := v.Mailbox([]string{"Sub"})
	if err != nil {
		t.Fatal(err)
	}
	if mb.Dir() != f.Dir() {
		t.Fatalf("view's Dir %q, folder's %q", mb.Dir(), f.Dir())
	}
	before := tree(t, s.Root())
	if id, err := mb.ID(); id != "" || err != nil {
		t.Errorf("a view's ID gave %q, %v: it must not create one", id, err)
	}
	want, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	checkReads(t, mb, want)
	if e, ok, err := mb.Find(a.Unique()); !ok || err != nil || e.Path != a.Path() {
		t.Errorf("Find(%q) = %+v %v %v", a.Unique(), e, ok, err)
	}
	checkRefuses(t, mb, a.Path())
	if after := tree(t, s.Root()); !slices.Equal(before, after) {
		t.Errorf("a view changed the Maildir:\n%q\n%q", before, after)
	}
	// The identity the folder gets later is what the view reads.
	id, err := f.ID()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mb.ReadID(); got != id || err != nil {
		t.Errorf("view's ReadID %q, %v; folder's %q", got, err, id)
	}
}

// checkReads checks that mb lists, finds, opens and counts want.
func checkReads(t *testing.T, mb Mailbox, want []Entry) {
	t.Helper()
	got, err := mb.Scan()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Scan = %+v, %v; want %+v", got, err, want)
	}
	if has, err := mb.HasMessages(); err != nil || has != (len(want) > 0) {
		t.Errorf("HasMessages = %v, %v", has, err)
	}
	if id, err := mb.ReadID(); err != nil || id != "" {
		t.Errorf("ReadID = %q, %v", id, err)
	}
	if _, ok, err := mb.Find("1.M1P1Q1R1.missing,S=1"); ok || err != nil {
		t.Errorf("Find of a missing name: %v %v", ok, err)
	}
	ix, err := mb.Index([]MatchKey{{HeaderKey: HeaderKey{MessageID: "t1@example.org"}, Size: int64(len(testMsg))}}, nil)
	if err != nil || ix.Len() != len(want) {
		t.Errorf("Index: %v, %v; want %d", ix, err, len(want))
	}
	for _, e := range want {
		r, err := mb.Open(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != testMsg {
			t.Errorf("Open(%s) read %q", e.Path, b)
		}
	}
}

// checkRefuses checks that every write to mb fails.
func checkRefuses(t *testing.T, mb Mailbox, path string) {
	t.Helper()
	if st, err := mb.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{}); err == nil {
		t.Errorf("a view staged %s", st.Unique())
	}
	if err := mb.Publish(); err == nil {
		t.Error("a view published")
	}
	mb.Discard()
	if _, err := mb.SetFlags(path, "S"); err == nil {
		t.Error("a view changed flags")
	}
	if err := mb.Remove(path); err == nil {
		t.Error("a view removed a message")
	}
}

// tree lists every path under root with its size.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
		return nil
	})
	return out
}

// Open reads only the folder's own message files, and says when one is
// gone.
func TestMailboxOpen(t *testing.T) {
	f := openInbox(t)
	for _, p := range []string{filepath.Join(f.Dir(), "tmp", "x"), filepath.Join(f.Dir(), IDFile), "/etc/passwd"} {
		if r, err := f.Open(p); err == nil {
			r.Close()
			t.Errorf("Open(%s) succeeded", p)
		}
	}
	if _, err := f.Open(filepath.Join(f.Dir(), "cur", "gone:2,S")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a vanished file: %v", err)
	}
}

// A Destination is a store or an MDA; only a store has mailboxes.
func TestDestination(t *testing.T) {
	s := openStore(t, LayoutMaildirPP)
	d := StoreDestination(s)
	if d.Store() != s || d.MDA() != nil || d.IsZero() || d.ReadOnly() {
		t.Errorf("store destination %+v", d)
	}
	mb, err := d.Mailbox(nil)
	if f, ok := mb.(*Folder); err != nil || !ok || f.Dir() != s.Root() {
		t.Errorf("Mailbox(nil) = %v, %v", mb, err)
	}
	if tg, err := d.Target([]string{"INBOX"}); err != nil || tg != Target(mb) {
		t.Errorf("Target(INBOX) = %v, %v", tg, err)
	}
	v, _ := OpenView(s.Root(), LayoutMaildirPP)
	if dv := StoreDestination(v); !dv.ReadOnly() {
		t.Error("a view's destination is not read-only")
	}
	m := &MDA{Command: "true"}
	dm := MDADestination(m)
	if dm.MDA() != m || dm.Store() != nil || dm.ReadOnly() {
		t.Errorf("MDA destination %+v", dm)
	}
	if _, err := dm.Mailbox(nil); err == nil {
		t.Error("an MDA destination gave a mailbox")
	}
	if tg, err := dm.Target(nil); err != nil || tg != Target(m) {
		t.Errorf("MDA Target = %v, %v", tg, err)
	}
	if !(Destination{}).IsZero() {
		t.Error("the zero destination is not zero")
	}
}
