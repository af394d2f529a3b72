package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mustStamp takes the Stamp of f and whether it is trusted.
func mustStamp(t *testing.T, f *Folder) (Stamp, bool) {
	t.Helper()
	s, ok, err := ReadStamp(f.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return s, ok
}

// Every change a mail reader or a delivery makes to the message files
// changes the Stamp, even right after it was taken: on this machine's file
// systems (multigrain timestamps) without any wait.
func TestStampSeesEveryChange(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	if stampPrecision(f.Dir()) != stampExact {
		t.Skipf("the file system of %s has no multigrain timestamps (Linux 6.13+ with ext4, xfs, btrfs or tmpfs)", f.Dir())
	}
	cur := filepath.Join(f.Dir(), "cur")
	newDir := filepath.Join(f.Dir(), "new")
	path := ""
	steps := []struct {
		name string
		do   func() error
	}{
		{"deliver into new/", func() error {
			st, err := f.Deliver(t.Context(), strings.NewReader("Subject: x\n\nbody\n"), StageOptions{})
			if err == nil {
				path = st.Path()
			}
			return err
		}},
		{"move new/ to cur/", func() error {
			n, _ := ParseName(filepath.Base(path))
			dest := filepath.Join(cur, n.Unique+":2,")
			err := os.Rename(path, dest)
			path = dest
			return err
		}},
		{"flag in cur/", func() error {
			dest := strings.TrimSuffix(path, ":2,") + ":2,S"
			err := os.Rename(path, dest)
			path = dest
			return err
		}},
		{"touch nothing but the file", nil},
		{"remove from cur/", func() error { return os.Remove(path) }},
		{"create in new/ by hand", func() error {
			path = filepath.Join(newDir, "123.M1P1.host")
			return os.WriteFile(path, []byte("x\n"), 0o600)
		}},
		{"remove from new/", func() error { return os.Remove(path) }},
	}
	for round := range 50 {
		for _, step := range steps {
			before, ok := mustStamp(t, f)
			if !ok {
				t.Fatalf("round %d, %s: an exact Stamp is not trusted", round, step.name)
			}
			if step.do == nil {
				// Rewriting a message in place is no change of the folder.
				if err := os.WriteFile(path, []byte("y\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if after, _ := mustStamp(t, f); after != before {
					t.Fatalf("round %d: rewriting a file changed the Stamp", round)
				}
				continue
			}
			if err := step.do(); err != nil {
				t.Fatalf("round %d, %s: %v", round, step.name, err)
			}
			if after, _ := mustStamp(t, f); after == before {
				t.Fatalf("round %d, %s: Stamp unchanged (%s)", round, step.name, after)
			}
		}
	}
}

// On a file system with coarse timestamps a Stamp is trusted only once
// both directories have settled; on an unknown one, never.
func TestStampTrust(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	precisionOf := func(string) precision { return stampCoarse }
	settleTime := time.Hour
	mustStamp := func(t *testing.T, f *Folder) (Stamp, bool) {
		t.Helper()
		s, ok, err := readStamp(f.Dir(), precisionOf, settleTime)
		if err != nil {
			t.Fatal(err)
		}
		return s, ok
	}

	if _, ok := mustStamp(t, f); ok {
		t.Error("coarse: a Stamp of directories changed just now is trusted")
	}
	settleTime = 20 * time.Millisecond
	time.Sleep(50 * time.Millisecond)
	if _, ok := mustStamp(t, f); !ok {
		t.Error("coarse: a settled Stamp is not trusted")
	}
	if err := os.WriteFile(filepath.Join(f.Dir(), "cur", "1.M1P1.host:2,"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustStamp(t, f); ok {
		t.Error("coarse: trusted right after a change in cur/")
	}

	precisionOf = func(string) precision { return stampUntrusted }
	time.Sleep(50 * time.Millisecond)
	if _, ok := mustStamp(t, f); ok {
		t.Error("untrusted file system: Stamp trusted")
	}
}

func TestStampErrors(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	if err := os.Remove(filepath.Join(f.Dir(), "new")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ReadStamp(f.Dir()); err == nil || ok {
		t.Errorf("no new/: ok %v, err %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir(), "new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ReadStamp(f.Dir()); err == nil || ok {
		t.Errorf("new is a file: ok %v, err %v", ok, err)
	}
}

func TestStampString(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	s, _ := mustStamp(t, f)
	if s.New.Ino == 0 || s.Cur.Changed == 0 || s.New == s.Cur {
		t.Fatalf("Stamp %+v lacks fields", s)
	}
	if want := fmt.Sprintf("%d:%d:%d/%d:%d:%d", s.New.Dev, s.New.Ino, s.New.Changed, s.Cur.Dev, s.Cur.Ino, s.Cur.Changed); s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
}
