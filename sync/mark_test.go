package sync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/maildir"
)

// The skip mark: a folder is passed over without reading its state or
// Maildir only while nothing changed on either side; every change a mail
// reader makes, even right after a run, is still found and synced.
func TestSkipMark(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, ppUser)
	u := user.Name
	seedFlagged(t, srv, u, "INBOX", 21, 30, map[int]string{0: "S"})
	seedFlagged(t, srv, u, "Work", 22, 10, nil)
	env := newEnv(t, srv, user, maildir.LayoutMaildirPP)
	if res, _ := env.mustRun(nil); res.Delivered != 40 || res.Unchanged != 0 {
		t.Fatalf("initial sync: %+v", res)
	}
	// Right after a run that wrote into the Maildir, its Stamp is trusted
	// only where the file system's timestamps are exact (multigrain).
	// Elsewhere marks are written later and less often; the syncs below
	// must be right either way, the counts of skipped folders are checked
	// only here.
	_, exact, err := maildir.ReadStamp(env.localDir())
	if err != nil {
		t.Fatal(err)
	}
	if !exact {
		t.Logf("no multigrain timestamps under %s: skip counts are not checked", env.root)
	}
	unchanged := func(res Result, want int) {
		t.Helper()
		if exact && res.Unchanged != want {
			t.Errorf("%d folders passed over on their mark, want %d (%+v)", res.Unchanged, want, res)
		}
	}
	quiet := func(what string, want int) Result {
		t.Helper()
		res, log := env.mustRun(nil)
		if ch := log.changes(); len(ch) > 0 || res.Delivered+res.FlagsPushed+res.FlagsPulled+res.RemovedLocal > 0 {
			t.Errorf("%s: a sync with nothing to do did %+v: %v", what, res, ch)
		}
		unchanged(res, want)
		return res
	}
	quiet("after the initial sync", 2)
	for _, name := range []string{"INBOX", "Work"} {
		if _, err := os.Stat(env.markPath(name)); exact && err != nil {
			t.Errorf("%s: no mark: %v", name, err)
		}
	}

	// A mail reader flags messages, each right after a run: every change
	// is pushed by the next run.
	for i := range 10 {
		uid := uint32(2 + i)
		setLocalFlags(t, env.localFileOf("INBOX", uid), "F")
		res, _ := env.mustRun(nil)
		if res.FlagsPushed != 1 {
			t.Fatalf("change %d: %+v, want one flag pushed", i, res)
		}
		unchanged(res, 1)
		if f := serverFlagsNow(t, srv, u, "INBOX")[uid]; f != "F" {
			t.Fatalf("change %d: UID %d has %q on the server, want F", i, uid, f)
		}
	}
	// Our own UID STOREs moved INBOX's HIGHESTMODSEQ; the run that made
	// them proved they were the only change (modSeqAfterPush), so the
	// next run still passes over INBOX.
	quiet("after the local changes", 2)

	// Another client changes a message while a run pushes ours: the proof
	// that our STOREs were the only change fails, and the next run pulls
	// the other change instead of passing over the folder.
	concurrent := func(o *Options) {
		o.beforePushProof = func(string) {
			if err := srv.SetFlags(u, "INBOX", 25, `\Answered`); err != nil {
				t.Error(err)
			}
		}
	}
	setLocalFlags(t, env.localFileOf("INBOX", 24), "F")
	res, _ := env.mustRun(concurrent)
	if res.FlagsPushed != 1 {
		t.Fatalf("push with a concurrent change: %+v", res)
	}
	if res, _ := env.mustRun(nil); res.FlagsPulled != 1 {
		t.Errorf("the concurrent change on the server was not pulled: %+v", res)
	} else {
		unchanged(res, 1)
	}
	if f := env.localFileOf("INBOX", 25).flags; f != "R" {
		t.Errorf("UID 25 has %q locally, want R", f)
	}
	quiet("after the concurrent change", 2)

	// A change on the server.
	if err := srv.SetFlags(u, "Work", 1, `\Seen`); err != nil {
		t.Fatal(err)
	}
	if res, _ := env.mustRun(nil); res.FlagsPulled != 1 {
		t.Errorf("server change: %+v", res)
	} else {
		unchanged(res, 1)
	}

	// A message deleted locally stays on the server, and is not fetched
	// again, until a run that expunges such messages.
	if err := os.Remove(env.localFileOf("INBOX", 20).entry.Path); err != nil {
		t.Fatal(err)
	}
	if res, _ := env.mustRun(nil); res.RemovedRemote != 0 || res.Delivered != 0 {
		t.Errorf("local deletion: %+v", res)
	}
	quiet("after the local deletion", 2)
	res, _ = env.mustRun(func(o *Options) { o.ExpungeRemote = true })
	if res.RemovedRemote != 1 {
		t.Errorf("expunge-remote after the skip marks: %+v", res)
	}
	unchanged(res, 1)
	if _, ok := serverFlagsNow(t, srv, u, "INBOX")[20]; ok {
		t.Error("UID 20 is still on the server")
	}
	quiet("after the expunge", 1) // the expunge moved INBOX's status
	quiet("after the expunge, again", 2)

	// A missing, damaged or stale mark, or a journal changed behind the
	// mark's back, only costs a full look.
	if err := os.Remove(env.markPath("INBOX")); err != nil && exact {
		t.Fatal(err)
	}
	quiet("mark removed", 1)
	if err := os.WriteFile(env.markPath("INBOX"), []byte("skip1 garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet("mark damaged", 1)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(env.statePathOf("Work"), old, old); err != nil {
		t.Fatal(err)
	}
	quiet("journal touched", 1)

	// A dry run passes over the same folders and writes nothing.
	before := treeDigest(t, env.root, env.stateDir)
	res, log, err := env.run(func(o *Options) { o.DryRun = true })
	if err != nil || len(log.changes()) > 0 {
		t.Errorf("dry run: %v, %v", err, log.changes())
	}
	unchanged(res, 2)
	if after := treeDigest(t, env.root, env.stateDir); after != before {
		t.Error("the dry run changed files")
	}
	env.verifyMirror("INBOX")
	env.verifyMirror("Work", "Work")
}

// markPath and statePathOf are the engine's paths for the test's account.
func (e *testEnv) markPath(folder string) string {
	return (&engine{stateDir: filepath.Join(e.stateDir, "imap")}).markPath(folder)
}

func (e *testEnv) statePathOf(folder string) string {
	return (&engine{stateDir: filepath.Join(e.stateDir, "imap")}).statePath(folder)
}
