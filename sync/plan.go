package sync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/maildir"
)

// The sync of a selected folder is decided before anything is done: a
// pure step (planFolder) takes the folder's state, what the server says
// (serverView) and what the local folder holds (localIndex), and returns
// a folderPlan; the apply step (apply.go) carries it out in the order of
// DESIGN invariant 1: fetch and commit new mail, then flags both ways,
// then deletions both ways, each journaled as it is done.

// serverView is what the server says of a selected folder.
type serverView struct {
	sel *imapconn.Selected
	// uids are the messages on the server, sorted; on is the same as a
	// set. complete: their number matched the folder's message count, so
	// a known message missing from them was expunged.
	uids     []UID
	on       map[UID]bool
	complete bool
	// flags are those of known messages: all of them, or under CONDSTORE
	// those changed since the last sync (a message not listed kept its
	// base flags).
	flags map[UID]maildir.Flags
}

func newServerView(sel *imapconn.Selected, uids []UID, complete bool, flags map[UID]maildir.Flags) *serverView {
	on := make(map[UID]bool, len(uids))
	for _, u := range uids {
		on[u] = true
	}
	return &serverView{sel: sel, uids: uids, on: on, complete: complete, flags: flags}
}

// planRules are the options a plan follows.
type planRules struct {
	mda             bool // a one-way fetch: no flags, no deletions
	expungeRemote   bool // Options.ExpungeRemote
	allowMassDelete bool // Options.AllowMassDelete
	folder, dir     string
}

// folderPlan is what the sync of a selected folder will do.
type folderPlan struct {
	// fresh are the messages to fetch: above the last UID handled and not
	// known, plus deliveries a crash left undone.
	fresh []UID
	// flags are the known messages whose merged flags differ from either
	// side's or from the base.
	flags []*msgPlan
	// expunged are known messages the server no longer lists: their local
	// copies go, and the state forgets them.
	expunged []UID
	// localGone are messages whose local file was removed: recorded, left
	// on the server. expungeRemote are those to expunge on the server.
	localGone, expungeRemote []UID
	// guard is the mass-deletion guard's verdict (failure.Guard) when it
	// held deletions back (see guardDeletions); nil when it did not.
	guard error
}

// msgPlan is what a sync does to one known message's flags.
type msgPlan struct {
	uid                         UID
	m                           *msgRecord
	entry                       maildir.Entry
	base, server, local, result maildir.Flags
}

// planFolder decides the sync of a selected folder. It reads its inputs
// and changes nothing; local is nil when there is no local folder to look
// at (an MDA, or a dry run without a store).
func planFolder(st *folderState, local *localIndex, srv *serverView, refetch map[UID]bool, rules planRules) *folderPlan {
	p := &folderPlan{}
	for _, u := range srv.uids {
		if (u > st.last && !st.known(u)) || refetch[u] {
			p.fresh = append(p.fresh, u)
		}
	}
	if !rules.mda {
		p.planFlags(st, local, srv, rules.expungeRemote)
	}
	if srv.complete {
		for u := range st.msgs {
			if !srv.on[u] {
				p.expunged = append(p.expunged, u)
			}
		}
		for u := range st.pending {
			if !srv.on[u] {
				p.expunged = append(p.expunged, u)
			}
		}
		slices.Sort(p.expunged)
	}
	if !rules.allowMassDelete {
		p.guardDeletions(st, local, int(srv.sel.Messages), rules)
	}
	return p
}

// planFlags merges the flags of every known message still on the server,
// and sorts out those whose local file is gone: with ExpungeRemote they
// are to be expunged on the server, else they are marked gone locally and
// left on the server.
func (p *folderPlan) planFlags(st *folderState, local *localIndex, srv *serverView, expungeRemote bool) {
	for _, u := range slices.Sorted(maps.Keys(st.msgs)) {
		m := st.msgs[u]
		if !srv.on[u] || isMDAUnique(m.unique) {
			continue
		}
		if m.localGone {
			if expungeRemote {
				p.expungeRemote = append(p.expungeRemote, u)
			}
			continue
		}
		mp := &msgPlan{uid: u, m: m, base: m.flags, server: m.flags, local: m.flags}
		if f, ok := srv.flags[u]; ok {
			mp.server = f
		}
		if local != nil {
			e, ok := local.find(m.unique)
			switch {
			case !ok && expungeRemote:
				p.expungeRemote = append(p.expungeRemote, u)
				continue
			case !ok:
				p.localGone = append(p.localGone, u)
				continue
			}
			mp.entry, mp.local = e, synced(e.Flags)
		}
		mp.result = mergeFlags(mp.base, mp.server, mp.local)
		if mp.result != mp.base || mp.result != mp.server || mp.result != mp.local {
			p.flags = append(p.flags, mp)
		}
	}
}

// Mass deletions (DESIGN invariant 9): a run never deletes a large share
// of a folder, on the server or locally, because of a difference it
// observed, unless Options.AllowMassDelete says so. Large is more than
// massDeleteCount messages, or more than a quarter of the folder when
// that is more than massDeleteFloor messages (emptying a small Trash is
// not a mass deletion). Users of mbsync and offlineimap lose whole
// mailboxes to a state that no longer matches its Maildir; the binding
// (DESIGN invariant 8) catches most of that, this guard the rest.
const (
	massDeleteCount = 100
	massDeleteFloor = 10
)

// massDeletion reports whether deleting n of a folder's total messages is
// a mass deletion.
func massDeletion(n, total int) bool {
	return n > massDeleteCount || n > massDeleteFloor && 4*n > total
}

// guardDeletions holds back the deletions of the plan that would be mass
// deletions (see massDeletion), on either side, and says why in p.guard:
// the rest of the folder syncs. Messages deleted locally whose expunge on
// the server is held back are recorded as deleted locally (they stay on
// the server and are not fetched again), so that a later run with
// AllowMassDelete expunges them. onServer is the server's message count.
func (p *folderPlan) guardDeletions(st *folderState, local *localIndex, onServer int, rules planRules) {
	var why []string
	known, files := 0, 0
	for _, m := range st.msgs {
		if !m.localGone && !isMDAUnique(m.unique) {
			known++
		}
	}
	for _, u := range p.expunged {
		if m := st.msgs[u]; m != nil && !m.localGone && !isMDAUnique(m.unique) {
			if _, ok := local.find(m.unique); ok {
				files++
			}
		}
	}
	if massDeletion(files, known) {
		why = append(why, fmt.Sprintf("refusing to remove %d of the %d local messages of %s because the server no longer lists them", files, known, rules.dir))
		p.expunged = nil
	}
	if n := len(p.expungeRemote); massDeletion(n, onServer) {
		why = append(why, fmt.Sprintf("refusing to delete %d of the %d messages on the server because they are missing from %s", n, onServer, rules.dir))
		p.localGone = append(p.localGone, p.expungeRemote...)
		p.expungeRemote = nil
	}
	if len(why) > 0 {
		p.guard = failure.New(failure.Guard, fmt.Sprintf("imap: %s: %s; nothing was deleted: if that is what you want, run again with --allow-mass-delete", rules.folder, strings.Join(why, "; and ")))
	}
}

// lastHandled is the new L of a folder after a fetch of fresh: it moves
// up to the highest UID on the server, but never past a new message that
// was not delivered (undelivered), which must be fetched next time.
func lastHandled(last UID, server, undelivered []UID) UID {
	newLast := last
	if len(server) > 0 {
		newLast = max(newLast, server[len(server)-1])
	}
	for _, u := range undelivered {
		if u > last && u-1 < newLast {
			newLast = u - 1
		}
	}
	return newLast
}
