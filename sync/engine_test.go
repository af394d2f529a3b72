package sync

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// The plan step alone: the state, the server's view and the local
// listing in, what to fetch, merge and delete out.
func TestPlanFolder(t *testing.T) {
	t.Parallel()
	st := newFolderState("INBOX")
	st.uidValidity, st.last = 7, 5
	st.msgs[1] = &msgRecord{unique: "u1", flags: "S"}
	st.msgs[2] = &msgRecord{unique: "u2", localGone: true}
	st.msgs[3] = &msgRecord{unique: "u3"}
	st.msgs[4] = &msgRecord{unique: "u4", flags: "F"}
	st.msgs[5] = &msgRecord{unique: "u5"}
	local := newLocalIndex([]maildir.Entry{
		{Unique: "u1", Path: "/m/cur/u1:2,S", Flags: "S"},
		{Unique: "u3", Path: "/m/cur/u3:2,S", Flags: "S"}, // read locally
		{Unique: "u4", Path: "/m/cur/u4:2,F", Flags: "F"},
	}) // u5's file was removed
	sel := &imapconn.Selected{Name: "INBOX", UIDValidity: 7, Messages: 6}
	srv := newServerView(sel, []UID{1, 2, 3, 5, 7, 8}, true, map[UID]maildir.Flags{1: "FS"}) // 4 expunged, 1 flagged
	rules := planRules{folder: "INBOX", dir: "/m"}

	p := planFolder(st, local, srv, nil, rules)
	if !slices.Equal(p.fresh, []UID{7, 8}) || !slices.Equal(p.expunged, []UID{4}) || !slices.Equal(p.localGone, []UID{5}) || len(p.expungeRemote) != 0 || p.guard != nil {
		t.Errorf("plan: fresh %v expunged %v localGone %v expungeRemote %v guard %v", p.fresh, p.expunged, p.localGone, p.expungeRemote, p.guard)
	}
	var merged []string
	for _, mp := range p.flags {
		merged = append(merged, uidStr(mp.uid)+":"+string(mp.server)+"+"+string(mp.local)+"="+string(mp.result))
	}
	if got := strings.Join(merged, " "); got != "1:FS+S=FS 3:+S=S" {
		t.Errorf("flag merges %q", got)
	}

	// With ExpungeRemote, every message deleted locally goes from the
	// server; a list that does not match the count expunges nothing
	// locally; an MDA merges and deletes nothing.
	p = planFolder(st, local, srv, nil, planRules{expungeRemote: true})
	if !slices.Equal(p.expungeRemote, []UID{2, 5}) || len(p.localGone) != 0 {
		t.Errorf("expunge-remote plan: %v, %v", p.expungeRemote, p.localGone)
	}
	p = planFolder(st, local, newServerView(sel, srv.uids, false, srv.flags), nil, rules)
	if len(p.expunged) != 0 {
		t.Errorf("an incomplete list expunged %v", p.expunged)
	}
	p = planFolder(st, nil, srv, map[UID]bool{3: true}, planRules{mda: true})
	if !slices.Equal(p.fresh, []UID{3, 7, 8}) || len(p.flags)+len(p.localGone)+len(p.expungeRemote) != 0 {
		t.Errorf("MDA plan: %+v", p)
	}

	if got := lastHandled(5, []UID{1, 7, 8, 9}, []UID{8}); got != 7 {
		t.Errorf("lastHandled with 8 undelivered = %d, want 7", got)
	}
	if got := lastHandled(5, []UID{1, 7}, nil); got != 7 {
		t.Errorf("lastHandled = %d, want 7", got)
	}
}

// The mass-deletion guard's verdict is part of the plan: deletions held
// back on either side, and why.
func TestPlanGuard(t *testing.T) {
	t.Parallel()
	st := newFolderState("Box")
	var entries []maildir.Entry
	var uids []UID
	for u := UID(1); u <= 200; u++ {
		unique := "u" + uidStr(u)
		st.msgs[u] = &msgRecord{unique: unique}
		uids = append(uids, u)
		if u > 150 {
			entries = append(entries, maildir.Entry{Unique: unique, Path: "/m/cur/" + unique})
		}
	}
	sel := &imapconn.Selected{Name: "Box", Messages: 200}
	srv := newServerView(sel, uids, true, nil)
	rules := planRules{expungeRemote: true, folder: "Box", dir: "/m"}
	p := planFolder(st, newLocalIndex(entries), srv, nil, rules)
	if len(p.expungeRemote) != 0 || len(p.localGone) != 150 || failure.KindOf(p.guard) != failure.Guard ||
		!strings.Contains(p.guard.Error(), "refusing to delete 150 of the 200 messages on the server") || !strings.Contains(p.guard.Error(), "--allow-mass-delete") {
		t.Errorf("guarded plan: %d to expunge, %d recorded, %v", len(p.expungeRemote), len(p.localGone), p.guard)
	}
	rules.allowMassDelete = true
	if p = planFolder(st, newLocalIndex(entries), srv, nil, rules); len(p.expungeRemote) != 150 || p.guard != nil {
		t.Errorf("allowed: %d to expunge, %v", len(p.expungeRemote), p.guard)
	}
	// All files are there, but the server lists only 40 of the 200: 160
	// local files would go.
	var all []maildir.Entry
	for _, u := range uids {
		all = append(all, maildir.Entry{Unique: "u" + uidStr(u), Path: "/m/cur/u" + uidStr(u)})
	}
	srv = newServerView(sel, uids[:40], true, nil)
	p = planFolder(st, newLocalIndex(all), srv, nil, planRules{folder: "Box", dir: "/m"})
	if len(p.expunged) != 0 || p.guard == nil || !strings.Contains(p.guard.Error(), "refusing to remove 160 of the 200 local messages") {
		t.Errorf("local mass deletion: %d expunged, %v", len(p.expunged), p.guard)
	}
}

// Flags both ways, with the engine over a connection in memory: the
// server's change is pulled (the file renamed), the local one pushed
// (one STORE), and the next run has nothing to do.
func TestMemFlagsBothWays(t *testing.T) {
	t.Parallel()
	c := newMemConn(true, true)
	c.add("INBOX", 0, memBodies(91, 2)...)
	c.add("INBOX", imapconn.Seen, memBodies(92, 1)...)
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if res, _, err := memRun(t, c, root, state, nil); err != nil || res.Delivered != 3 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	c.setFlags("INBOX", 1, imapconn.Flagged)
	setLocalFlags(t, memLocal(t, c, root, "INBOX")[2], "RS")
	res, _, err := memRun(t, c, root, state, nil)
	if err != nil || res.FlagsPulled != 1 || res.FlagsPushed != 1 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if len(c.stores) != 1 || c.stores[0][2] != (imapconn.FlagChange{Add: imapconn.Answered | imapconn.Seen}) || len(c.stores[0]) != 1 {
		t.Errorf("STOREs %v, want one adding \\Answered \\Seen to UID 2", c.stores)
	}
	if m := c.msg("INBOX", 2); m.flags != imapconn.Answered|imapconn.Seen {
		t.Errorf("server UID 2: %v", m.flags)
	}
	local := memLocal(t, c, root, "INBOX")
	if local[1].flags != "F" || local[2].flags != "RS" || local[3].flags != "S" {
		t.Errorf("local flags %q %q %q", local[1].flags, local[2].flags, local[3].flags)
	}
	res, log, err := memRun(t, c, root, state, nil)
	if err != nil || len(log.changes()) != 0 || len(c.stores) != 1 {
		t.Errorf("third run: %+v, %v, %v, %d STOREs", res, err, log.changes(), len(c.stores))
	}
}

// Expunges each way: one on the server removes the local file; a file
// removed locally stays on the server until ExpungeRemote, which
// expunges exactly it, and only with UIDPLUS.
func TestMemExpunges(t *testing.T) {
	t.Parallel()
	for _, uidPlus := range []bool{true, false} {
		c := newMemConn(true, uidPlus)
		c.add("INBOX", 0, memBodies(93, 5)...)
		dir := t.TempDir()
		root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
		if _, _, err := memRun(t, c, root, state, nil); err != nil {
			t.Fatal(err)
		}
		c.expunge("INBOX", 2)
		if res, _, err := memRun(t, c, root, state, nil); err != nil || res.RemovedLocal != 1 || countLocal(t, root) != 4 {
			t.Fatalf("server expunge: %+v, %v, %d local", res, err, countLocal(t, root))
		}
		if err := os.Remove(memLocal(t, c, root, "INBOX")[4].entry.Path); err != nil {
			t.Fatal(err)
		}
		if res, _, err := memRun(t, c, root, state, nil); err != nil || res.RemovedRemote != 0 || len(c.expunges) != 0 {
			t.Fatalf("local deletion: %+v, %v, %v", res, err, c.expunges)
		}
		res, log, err := memRun(t, c, root, state, func(o *Options) { o.ExpungeRemote = true })
		if err != nil || res.Delivered != 0 {
			t.Fatalf("expunge-remote: %+v, %v", res, err)
		}
		if !uidPlus {
			assertNotice(t, log, "INBOX", "lacks UIDPLUS")
			if len(c.expunges) != 0 || c.msg("INBOX", 4) == nil {
				t.Errorf("without UIDPLUS: expunged %v", c.expunges)
			}
			continue
		}
		if res.RemovedRemote != 1 || len(c.expunges) != 1 || !slices.Equal(c.expunges[0], []UID{4}) || c.msg("INBOX", 4) != nil {
			t.Errorf("expunge-remote: %+v, expunged %v", res, c.expunges)
		}
	}
}

// The guard, applied: a mass deletion on the server is held back (no
// expunge, Guard error), and done once allowed.
func TestMemGuard(t *testing.T) {
	t.Parallel()
	c := newMemConn(true, true)
	c.add("INBOX", 0, memBodies(94, 40)...)
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if _, _, err := memRun(t, c, root, state, nil); err != nil {
		t.Fatal(err)
	}
	local := memLocal(t, c, root, "INBOX")
	for u := UID(1); u <= 30; u++ {
		if err := os.Remove(local[u].entry.Path); err != nil {
			t.Fatal(err)
		}
	}
	expunge := func(o *Options) { o.ExpungeRemote = true }
	_, log, err := memRun(t, c, root, state, expunge)
	assertGuard(t, err, log, "refusing to delete 30 of the 40 messages on the server")
	if len(c.expunges) != 0 {
		t.Fatalf("the guard let %v through", c.expunges)
	}
	if n := len(log.kind(report.Deleted)); n != 0 {
		t.Errorf("%d Deleted events under the guard", n)
	}
	res, _, err := memRun(t, c, root, state, func(o *Options) { o.ExpungeRemote, o.AllowMassDelete = true, true })
	if err != nil || res.RemovedRemote != 30 || len(c.expunges) != 1 || len(c.expunges[0]) != 30 {
		t.Errorf("allowed: %+v, %v, %d expunges", res, err, len(c.expunges))
	}
}
