package sync

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// withRoot points a run at another Maildir root, as a user does who edits
// `maildir`, mistypes --maildir, or whose disk is not mounted.
func (e *testEnv) withRoot(root string) *testEnv {
	c := *e
	c.root = root
	return &c
}

// The reproduction: a folder synced into M1, then the same account
// (same state) run with --maildir M2 --expunge-remote. Today the dry run
// printed nothing and the real run deleted the whole folder on the server.
// Now M2 is not the Maildir the state describes: nothing is deleted, every
// message is fetched into M2, and a notice says why; the dry run says the
// same first. Going back to M1 re-matches and downloads nothing.
func TestStateBoundToItsMaildir(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	msgs := dovetest.Generate(81, 50)
	if err := srv.Seed(u, "Box", msgs); err != nil {
		t.Fatal(err)
	}
	m1 := newEnv(t, srv, user, maildir.LayoutFS)
	if res, _ := m1.mustRun(nil); res.Delivered != 50 {
		t.Fatalf("initial sync: %+v", res)
	}
	m2 := m1.withRoot(filepath.Join(t.TempDir(), "M2"))
	expunge := func(o *Options) { o.ExpungeRemote = true }

	// The dry run, with the Maildir not even created, shows the truth.
	log := &eventLog{}
	opt := m2.dryOptions(log)
	opt.ExpungeRemote = true
	if _, err := Run(t.Context(), opt); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := len(log.kind(report.WouldDelete)); n != 0 {
		t.Errorf("dry run: %d would-delete, want none", n)
	}
	if n := len(log.kind(report.WouldFetch)); n != 50 {
		t.Errorf("dry run: %d would-fetch, want 50", n)
	}
	assertNotice(t, log, "Box", "is new or empty", "50 message(s) on the server are new to this folder")
	if _, err := os.Stat(m2.root); err == nil {
		t.Error("the dry run created the Maildir")
	}

	res, log := m2.mustRun(expunge)
	if res.RemovedRemote != 0 || res.Delivered != 50 {
		t.Errorf("run into M2: %+v, want 50 delivered and nothing deleted on the server", res)
	}
	if n, _ := srv.Count(u, "Box"); n != 50 {
		t.Fatalf("the server lost mail: %d of 50 left", n)
	}
	assertNotice(t, log, "Box", "is new or empty")
	m2.verifyMirror("Box", "Box")
	if res, log := m2.mustRun(expunge); res.Delivered != 0 || len(log.changes()) != 0 {
		t.Errorf("second run into M2: %+v %v", res, log.changes())
	}

	// Back to M1: another Maildir again, but it holds the mail: re-matched
	// by content, nothing downloaded, nothing deleted anywhere.
	res, log = m1.mustRun(expunge)
	if res.Delivered != 0 || res.RemovedRemote != 0 || res.RemovedLocal != 0 {
		t.Errorf("back to M1: %+v", res)
	}
	assertNotice(t, log, "Box", "another one than the state describes", "re-matched", "50 by Message-ID")
	m1.verifyMirror("Box", "Box")
	if n, _ := srv.Count(u, "Box"); n != 50 {
		t.Fatalf("the server lost mail: %d of 50 left", n)
	}

	// The same Maildir moved to another path keeps its identity: bound,
	// no re-match, nothing fetched.
	moved := filepath.Join(t.TempDir(), "Moved")
	if err := os.Rename(m1.root, moved); err != nil {
		t.Fatal(err)
	}
	res, log = m1.withRoot(moved).mustRun(nil)
	if res.Delivered != 0 || len(log.kind(report.Notice)) != 0 || len(log.changes()) != 0 {
		t.Errorf("moved Maildir: %+v, notices %v, changes %v", res, log.kind(report.Notice), log.changes())
	}
}

// A state written before folders had identities (version 1) describes the
// folder that holds its messages: it is bound and upgraded without a
// re-match. Over a Maildir that holds none of them it is not.
func TestStateVersion1Upgrade(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	if err := srv.Seed(u, "Box", dovetest.Generate(82, 20)); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	env.mustRun(nil)
	downgrade := func() {
		t.Helper()
		path := env.statePathOf("Box")
		recs, err := maildir.ReadJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		var old [][]byte
		for _, r := range recs {
			switch {
			case bytes.HasPrefix(r, []byte("V ")):
				old = append(old, []byte("V 1"))
			case bytes.HasPrefix(r, []byte("B ")):
			default:
				old = append(old, r)
			}
		}
		j, _, err := maildir.OpenJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Rewrite(old); err != nil {
			t.Fatal(err)
		}
		j.Close()
		os.Remove(env.markPath("Box"))
	}
	downgrade()
	res, log := env.mustRun(nil)
	if res.Delivered != 0 || len(log.kind(report.Notice)) != 0 {
		t.Errorf("upgrade: %+v, notices %v", res, log.kind(report.Notice))
	}
	recs, _ := maildir.ReadJournal(env.statePathOf("Box"))
	if !bytes.HasPrefix(recs[0], []byte("V 2")) || !journalHas(recs, "B ") {
		t.Errorf("upgraded journal: %q", recs[:min(len(recs), 8)])
	}

	downgrade()
	other := env.withRoot(filepath.Join(t.TempDir(), "Other"))
	res, log = other.mustRun(nil)
	if res.Delivered != 20 {
		t.Errorf("version 1 state over another Maildir: %+v", res)
	}
	assertNotice(t, log, "Box", "none of the 20 messages the state knows")
}

// A run never deletes a large share of a folder because of a difference
// it observed (DESIGN invariant 9): on the server (messages missing
// locally, with expunge-remote) or locally (messages the server no longer
// lists). It holds them back, says what and how to allow it, exits with
// Guard, and syncs the rest; the dry run shows the same. With
// AllowMassDelete it deletes. Small deletions are not held back.
func TestMassDeletionGuard(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	if err := srv.Seed(u, "Box", dovetest.Generate(83, 200)); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	env.mustRun(nil)

	// 150 of 200 deleted locally, expunge-remote asked for.
	local := localMessages(t, env.localDir("Box"))
	n := 0
	for path := range local {
		if n == 150 {
			break
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		n++
	}
	expunge := func(o *Options) { o.ExpungeRemote = true }
	dry := func(o *Options) { o.ExpungeRemote, o.DryRun = true, true }
	_, log, err := env.run(dry)
	assertGuard(t, err, log, "refusing to delete 150 of the 200 messages on the server")
	if n := len(log.kind(report.WouldDelete)); n != 0 {
		t.Errorf("dry run: %d would-delete under the guard", n)
	}
	_, log, err = env.run(expunge)
	assertGuard(t, err, log, "refusing to delete 150 of the 200 messages on the server")
	if c, _ := srv.Count(u, "Box"); c != 200 {
		t.Fatalf("the guard let %d messages go", 200-c)
	}
	// Held back, not forgotten: the next run with consent deletes them.
	res, _ := env.mustRun(func(o *Options) { o.ExpungeRemote, o.AllowMassDelete = true, true })
	if res.RemovedRemote != 150 {
		t.Errorf("with consent: %+v", res)
	}
	if c, _ := srv.Count(u, "Box"); c != 50 {
		t.Errorf("server has %d, want 50", c)
	}

	// The server suddenly lists none of the 50: the local copy is kept.
	uids, err := srv.FetchRaw(u, "Box")
	if err != nil {
		t.Fatal(err)
	}
	var all []uint32
	for uid := range uids {
		all = append(all, uid)
	}
	if err := srv.Expunge(u, "Box", all...); err != nil {
		t.Fatal(err)
	}
	_, log, err = env.run(nil)
	assertGuard(t, err, log, "refusing to remove 50 of the 50 local messages")
	if c := len(localMessages(t, env.localDir("Box"))); c != 50 {
		t.Fatalf("the guard let %d local messages go", 50-c)
	}
	res, _ = env.mustRun(func(o *Options) { o.AllowMassDelete = true })
	if res.RemovedLocal != 50 || len(localMessages(t, env.localDir("Box"))) != 0 {
		t.Errorf("with consent: %+v", res)
	}

	// Small deletions pass: 3 of 5 deleted locally.
	if err := srv.Seed(u, "Small", dovetest.Generate(84, 5)); err != nil {
		t.Fatal(err)
	}
	env.mustRun(nil)
	n = 0
	for path := range localMessages(t, env.localDir("Small")) {
		if n == 3 {
			break
		}
		os.Remove(path)
		n++
	}
	res, _ = env.mustRun(expunge)
	if res.RemovedRemote != 3 {
		t.Errorf("small deletion: %+v", res)
	}
}

// The Cyrus reproduction: a message deleted locally (and synced),
// then the folder's UIDVALIDITY changes (a server restore): the message
// must not come back. A local flag change made since the last sync also
// survives the re-match: a flag the user removed is removed on the server.
func TestUIDValidityKeepsLocalDeletionsAndFlags(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	msgs := uidvalidityMessages() // 30 with a Message-ID, then 2 without
	if err := srv.Seed(u, "Box", msgs); err != nil {
		t.Fatal(err)
	}
	old, _ := srv.UIDValidity(u, "Box")
	env := newEnv(t, srv, user, maildir.LayoutFS)
	env.mustRun(nil)

	// Delete UID 6 (a Message-ID) and UID 31 (none) locally; sync.
	gone := map[uint32]bool{6: true, 31: true}
	for uid := range gone {
		if err := os.Remove(env.localFileOf("Box", uid, "Box").entry.Path); err != nil {
			t.Fatal(err)
		}
	}
	env.mustRun(nil)
	// UID 2 has \Flagged \Seen on both sides; the user removes \Flagged.
	setLocalFlags(t, env.localFileOf("Box", 2, "Box"), "S")

	if err := srv.DeleteMailbox(u, "Box"); err != nil {
		t.Fatal(err)
	}
	extra := dovetest.Generate(85, 1)
	if err := srv.Seed(u, "Box", append(msgs, extra...)); err != nil {
		t.Fatal(err)
	}
	if v, _ := srv.UIDValidity(u, "Box"); v == old {
		if err := srv.SetUIDValidity(u, "Box", old+1); err != nil {
			t.Fatal(err)
		}
	}
	res, log := env.mustRun(nil)
	if res.Delivered != 1 {
		t.Errorf("delivered %d after the reset, want only the new message", res.Delivered)
	}
	assertNotice(t, log, "Box", "UIDVALIDITY changed", "2 message(s) deleted locally stay deleted")
	env.verifyMirrorExcept("Box", gone, "Box")
	if f := serverFlagsNow(t, srv, u, "Box")[2]; f != "S" {
		t.Errorf("UID 2 on the server: %q, want S (the local removal of F)", f)
	}
	res, log = env.mustRun(nil)
	if res.Delivered != 0 || len(log.changes()) != 0 {
		t.Errorf("second run: %+v %v", res, log.changes())
	}
}

func assertNotice(t *testing.T, log *eventLog, folder string, want ...string) {
	t.Helper()
	for _, n := range log.kind(report.Notice) {
		if n.Folder != folder {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(n.Text, w)
		}
		if ok {
			return
		}
	}
	t.Errorf("%s: no notice saying %q; notices: %v", folder, want, log.kind(report.Notice))
}

func assertGuard(t *testing.T, err error, log *eventLog, want string) {
	t.Helper()
	if failure.KindOf(err) != failure.Guard || failure.Code(err) != failure.CodeGuard {
		t.Errorf("run: %v (kind %v), want a Guard failure", err, failure.KindOf(err))
	}
	for _, e := range log.kind(report.Error) {
		if strings.Contains(e.Err.Error(), want) && strings.Contains(e.Err.Error(), "--allow-mass-delete") {
			return
		}
	}
	t.Errorf("no error event saying %q and naming --allow-mass-delete: %v", want, log.kind(report.Error))
}

func journalHas(recs [][]byte, prefix string) bool {
	for _, r := range recs {
		if bytes.HasPrefix(r, []byte(prefix)) {
			return true
		}
	}
	return false
}
