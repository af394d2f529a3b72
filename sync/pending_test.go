package sync

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// rewriteState replaces a folder's journal with the records edit returns.
func rewriteState(t *testing.T, env *testEnv, folder string, edit func([][]byte) [][]byte) {
	t.Helper()
	path := filepath.Join(env.stateDir, "imap", stateFileName(folder))
	j, recs, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Rewrite(edit(recs)); err != nil {
		t.Fatal(err)
	}
}

// A delivery left pending by a crash: found in the folder means done,
// missing means fetched again, exactly once either way.
func TestPendingResolved(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	if err := srv.Seed(user.Name, "INBOX", dovetest.Generate(71, 5)); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	env.mustRun(nil)
	missing := env.localFileOf("INBOX", 3)
	rewriteState(t, env, "INBOX", func(recs [][]byte) [][]byte {
		var out [][]byte
		for _, r := range recs {
			switch {
			case bytes.HasPrefix(r, []byte("M 2 ")), bytes.HasPrefix(r, []byte("M 3 ")):
				out = append(out, append([]byte("P"), r[1:]...))
			case bytes.HasPrefix(r, []byte("L ")), bytes.HasPrefix(r, []byte("S ")):
				// As if the crash came before the end of the first sync.
			default:
				out = append(out, r)
			}
		}
		return out
	})
	if err := os.Remove(missing.entry.Path); err != nil {
		t.Fatal(err)
	}
	res, log := env.mustRun(nil)
	if res.Delivered != 1 {
		t.Errorf("delivered %d, want UID 3 only", res.Delivered)
	}
	if d := log.changes(); len(d) != 1 || d[0].ServerID != "3" {
		t.Errorf("changes %v", d)
	}
	env.verifyMirror("INBOX")
}

// A damaged journal stops its folder with advice; following it rebuilds
// the state from the Maildir without fetching anything twice.
func TestDamagedState(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	if err := srv.Seed(user.Name, "INBOX", dovetest.Generate(72, 5)); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	env.mustRun(nil)
	path := filepath.Join(env.stateDir, "imap", stateFileName("INBOX"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(" M 1 "))
	data[i+3] = 'X' // a bad checksum before the last record
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = env.run(nil)
	if err == nil || !strings.Contains(err.Error(), "move it away") || failure.KindOf(err) != failure.LocalIO {
		t.Fatalf("damaged state: %v", err)
	}
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	res, _ := env.mustRun(nil)
	if res.Delivered != 0 {
		t.Errorf("rebuild delivered %d", res.Delivered)
	}
	env.verifyMirror("INBOX")
}
