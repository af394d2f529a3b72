package sync

import (
	"os"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// seedFlagged seeds n generated messages with the given flags by index
// (others none), so that UIDs and flags are known.
func seedFlagged(t *testing.T, srv *dovetest.Server, user, box string, seed int64, n int, flags map[int]string) {
	t.Helper()
	msgs := dovetest.Generate(seed, n)
	for i := range msgs {
		msgs[i].Flags = flags[i]
	}
	if err := srv.Seed(user, box, msgs); err != nil {
		t.Fatal(err)
	}
}

func serverFlagsNow(t *testing.T, srv *dovetest.Server, user, box string) map[uint32]maildir.Flags {
	t.Helper()
	fl, err := srv.Flags(user, box)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]maildir.Flags{}
	for u, f := range fl {
		out[u] = serverFlagsOf(f)
	}
	return out
}

func TestIncremental(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, ppUser)
	u := user.Name
	// UIDs 1..20; UID 5 seen, UID 6 flagged and seen.
	seedFlagged(t, srv, u, "INBOX", 11, 20, map[int]string{4: "S", 5: "FS"})
	seedFlagged(t, srv, u, "Work", 12, 5, nil)
	seedFlagged(t, srv, u, "Gone", 13, 4, nil)
	env := newEnv(t, srv, user, maildir.LayoutMaildirPP)
	if res, _ := env.mustRun(nil); res.Delivered != 29 {
		t.Fatalf("initial sync: %+v", res)
	}

	// Changes on both sides.
	extra := dovetest.Generate(14, 2)
	if err := srv.Append(u, "INBOX", extra[0].Raw); err != nil {
		t.Fatal(err)
	}
	if err := srv.Append(u, "INBOX", extra[1].Raw, `\Seen`); err != nil {
		t.Fatal(err)
	}
	seedFlagged(t, srv, u, "Work", 15, 2, nil)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.SetFlags(u, "INBOX", 1, `\Seen`, `\Flagged`)) // server only
	must(srv.SetFlags(u, "INBOX", 6))                      // server cleared
	setLocalFlags(t, env.localFileOf("INBOX", 2), "S")     // local only
	setLocalFlags(t, env.localFileOf("INBOX", 3), "RS")
	must(srv.SetFlags(u, "INBOX", 4, `\Flagged`)) // both: a union
	setLocalFlags(t, env.localFileOf("INBOX", 4), "S")
	must(srv.SetFlags(u, "INBOX", 5))                   // server removed S,
	setLocalFlags(t, env.localFileOf("INBOX", 5), "FS") // local added F
	gone9 := env.localFileOf("INBOX", 9)
	must(os.Remove(gone9.entry.Path)) // deleted locally
	must(srv.Expunge(u, "INBOX", 7, 8))
	seedFlagged(t, srv, u, "Fresh", 16, 3, nil)
	goneDir := env.localDir("Gone")
	must(srv.DeleteMailbox(u, "Gone"))

	res, log := env.mustRun(nil)
	if res.Delivered != 7 {
		t.Errorf("delivered %d, want 2 + 2 + 3", res.Delivered)
	}
	want := map[uint32]maildir.Flags{1: "FS", 2: "S", 3: "RS", 4: "FS", 5: "F", 6: "", 10: ""}
	got := serverFlagsNow(t, srv, u, "INBOX")
	for uid, f := range want {
		if got[uid] != f {
			t.Errorf("server UID %d: flags %q, want %q", uid, got[uid], f)
		}
	}
	if _, ok := got[9]; !ok {
		t.Error("UID 9, deleted locally, was removed from the server")
	}
	env.verifyMirrorExcept("INBOX", map[uint32]bool{9: true})
	env.verifyMirror("Work", "Work")
	env.verifyMirror("Fresh", "Fresh")
	if n := countLocal(t, goneDir); n != 4 {
		t.Errorf("folder deleted on the server: %d local messages left, want 4", n)
	}
	var deleted []string
	for _, e := range log.kind(report.Deleted) {
		if !e.Local || e.Folder != "INBOX" {
			t.Errorf("unexpected deletion %+v", e)
		}
		deleted = append(deleted, e.ServerID)
	}
	if strings.Join(deleted, ",") != "7,8" && strings.Join(deleted, ",") != "8,7" {
		t.Errorf("local deletions %v, want 7 and 8", deleted)
	}
	notices := log.kind(report.Notice)
	if len(notices) != 1 || notices[0].Folder != "Gone" {
		t.Errorf("notices %v, want one for the deleted folder", notices)
	}

	// Nothing left to do; the vanished folder is not noticed again.
	res, log = env.mustRun(nil)
	for _, e := range log.changes() {
		t.Errorf("second run: %s %s %s %s", e.Kind, e.Folder, e.ServerID, e.Text)
	}
	if n := log.kind(report.Notice); len(n) != 0 {
		t.Errorf("second run notices: %v", n)
	}
	if res.Delivered != 0 {
		t.Errorf("second run: %+v", res)
	}

	// A dry run with ExpungeRemote says what it would do, writes nothing.
	must(srv.SetFlags(u, "INBOX", 10, `\Deleted`))
	before := treeDigest(t, env.root, env.stateDir)
	_, log, err := env.run(func(o *Options) { o.DryRun = true; o.ExpungeRemote = true; o.Store = nil })
	if err != nil {
		t.Fatal(err)
	}
	var would []string
	for _, e := range log.changes() {
		would = append(would, string(e.Kind)+" "+e.ServerID+" "+map[bool]string{true: "local", false: "server"}[e.Local])
	}
	if w := strings.Join(would, "; "); w != "would-delete 9 server" {
		t.Errorf("dry run without a store: %s", w)
	}
	_, log, err = env.run(func(o *Options) { o.DryRun = true; o.ExpungeRemote = true })
	if err != nil {
		t.Fatal(err)
	}
	would = nil
	for _, e := range log.changes() {
		would = append(would, string(e.Kind)+" "+e.ServerID+" "+map[bool]string{true: "local", false: "server"}[e.Local])
	}
	if w := strings.Join(would, "; "); w != "flags-changed 10 local; would-delete 9 server" {
		t.Errorf("dry run: %s", w)
	}
	if after := treeDigest(t, env.root, env.stateDir); after != before {
		t.Errorf("dry run changed files:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// ExpungeRemote: UID 9 goes, UID 10 (\Deleted by someone else) stays.
	res, _ = env.mustRun(func(o *Options) { o.ExpungeRemote = true })
	if res.RemovedRemote != 1 {
		t.Errorf("removed remotely %d, want 1", res.RemovedRemote)
	}
	got = serverFlagsNow(t, srv, u, "INBOX")
	if _, ok := got[9]; ok {
		t.Error("UID 9 still on the server")
	}
	if got[10] != "T" {
		t.Errorf("UID 10: %q, want still there, \\Deleted", got[10])
	}
	env.verifyMirror("INBOX")
	res, log = env.mustRun(func(o *Options) { o.ExpungeRemote = true })
	for _, e := range log.changes() {
		t.Errorf("last run: %s %s %s %s", e.Kind, e.Folder, e.ServerID, e.Text)
	}
}
