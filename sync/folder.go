package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// stateJournal is the part of maildir.Journal a folder sync uses; a dry
// run gets one that writes nothing.
type stateJournal interface {
	Append(recs ...[]byte) error
	Sync() error
	Rewrite(recs [][]byte) error
	Close() error
}

// dryJournal is the journal of a dry run: it drops every record.
type dryJournal struct{}

func (dryJournal) Append(...[]byte) error { return nil }
func (dryJournal) Sync() error            { return nil }
func (dryJournal) Rewrite([][]byte) error { return nil }
func (dryJournal) Close() error           { return nil }

// folderRun is the sync of one folder over one session.
type folderRun struct {
	e    *engine
	conn imapconn.Conn // nil until the folder needs the server
	job  *folderJob
	name string
	dry  bool
	mda  bool

	st *folderState
	j  stateJournal
	// dirty: records were appended since the journal was last compacted.
	dirty bool
	// keep: close without touching the journal (the folder goes to another
	// worker).
	keep bool

	mf *maildir.Folder // the local folder; nil with an MDA and in a dry run
	// stamp was taken of mf just before it was listed into local;
	// stampOK: it can be trusted (see maildir.ReadStamp).
	stamp   maildir.Stamp
	stampOK bool
	target  maildir.Target // where new messages go; nil in a dry run
	local   *localIndex    // nil with an MDA, or in a dry run without a store
	// refetch: deliveries left pending by a crash whose file is missing.
	// They stay pending in the state until fetched again or expunged.
	refetch map[UID]bool

	sel       *imapconn.Selected
	condStore bool
	// rematched: the state was rebuilt in this run; serverFlags holds the
	// flags the rebuild fetched, so no flag FETCH is needed.
	rematched   bool
	serverFlags map[UID]maildir.Flags

	// pushed: the flags this run set on the server, by UID;
	// pushIncomplete: a STORE was not confirmed (see modSeqAfterPush).
	pushed         map[UID]maildir.Flags
	pushIncomplete bool

	// softErr is the first error that did not stop the folder (one file
	// that could not be renamed): the folder completes and reports it.
	softErr error

	// identity is the local folder's maildir identity ("" in a dry run
	// when it has none yet); unbound, when not "", says why the local
	// folder is not the one the state describes (DESIGN invariant 8): then
	// a missing file is no local deletion and the state is re-matched.
	identity string
	unbound  string

	delivered int
	bytes     int64
}

// statePath is where a folder's journal lives.
func (e *engine) statePath(folder string) string {
	return filepath.Join(e.stateDir, stateFileName(folder))
}

// syncFolder syncs one folder. An error fails this folder only.
// connect returns the worker's connection, dialing it when needed: only
// folders that need more than the LIST-STATUS cost a connection.
func (e *engine) syncFolder(ctx context.Context, job *folderJob, connect func() (imapconn.Conn, error)) (err error) {
	if e.quickSkip(job) {
		e.add(func(r *Result) { r.Unchanged++ })
		e.emit(report.Event{Kind: report.FolderStart, Folder: job.f.Name})
		e.emit(report.Event{Kind: report.FolderDone, Folder: job.f.Name})
		return nil
	}
	r := &folderRun{
		e: e, job: job, name: job.f.Name,
		dry: e.opt.DryRun, mda: e.opt.MDA != nil,
		refetch:   map[UID]bool{},
		pushed:    map[UID]maildir.Flags{},
		condStore: e.caps.CondStore,
	}
	if err := r.open(); err != nil {
		return err
	}
	defer func() {
		if cerr := r.close(err == nil); err == nil && cerr != nil {
			err = cerr
		}
		if err == nil && r.softErr != nil {
			err = r.softErr
		}
		if err == nil {
			e.emit(report.Event{Kind: report.FolderDone, Folder: r.name, Count: int64(r.delivered), Bytes: r.bytes})
		}
	}()
	if err := r.resolvePending(); err != nil {
		return err
	}
	if r.canSkip() {
		e.emit(report.Event{Kind: report.FolderStart, Folder: r.name})
		return nil
	}
	if r.conn, err = connect(); err != nil {
		r.keep = true // given back or failed before any change: nothing to record
		return err
	}
	return r.syncSelected(ctx)
}

// open loads the folder's state and scans its local copy.
func (r *folderRun) open() error {
	path := r.e.statePath(r.name)
	var recs [][]byte
	if r.dry {
		var err error
		recs, err = maildir.ReadJournal(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return damagedState(r.name, path, err)
		}
		r.j = dryJournal{}
	} else {
		j, rs, err := maildir.OpenJournal(path)
		if err != nil {
			if failure.KindOf(err) == failure.LocalIO {
				return fmt.Errorf("imap: %s: state: %w", r.name, err)
			}
			return damagedState(r.name, path, err)
		}
		r.j, recs = j, rs
	}
	st, err := parseState(r.name, recs)
	if err != nil {
		r.j.Close()
		return damagedState(r.name, path, err)
	}
	r.st = st
	if len(recs) == 0 {
		r.append(recV(), recN(r.name))
	}

	switch {
	case r.mda:
		r.target = r.e.opt.MDA
	case r.dry:
		if r.job.dir != "" {
			entries, err := scanReadOnly(r.job.dir)
			if err != nil {
				r.j.Close()
				return failure.Wrap(failure.LocalIO, fmt.Errorf("imap: %s: %w", r.name, err))
			}
			r.local = newLocalIndex(entries)
			if r.identity, err = maildir.ReadID(r.job.dir); err != nil {
				r.j.Close()
				return fmt.Errorf("imap: %s: %w", r.name, err)
			}
			r.bind()
		}
	default:
		mf, err := r.e.opt.Store.Folder(r.job.path)
		if err != nil {
			r.j.Close()
			return fmt.Errorf("imap: %s: %w", r.name, err)
		}
		old, err := maildir.ReadID(mf.Dir())
		if err != nil {
			r.j.Close()
			return fmt.Errorf("imap: %s: %w", r.name, err)
		}
		// A failed Stamp only means no skip mark this time.
		r.stamp, r.stampOK, _ = maildir.ReadStamp(mf.Dir())
		entries, err := mf.Scan()
		if err != nil {
			r.j.Close()
			return fmt.Errorf("imap: %s: %w", r.name, err)
		}
		r.mf, r.target, r.local = mf, mf, newLocalIndex(entries)
		r.identity = old
		r.bind()
		// The folder keeps its identity from now on; a bound state that
		// did not record it yet (version 1) records it now. An unbound
		// one is rebuilt with it by the re-match.
		if r.identity, err = mf.ID(); err != nil {
			r.j.Close()
			return fmt.Errorf("imap: %s: %w", r.name, err)
		}
		if r.unbound == "" && r.st.identity != r.identity {
			r.st.identity = r.identity
			r.append(recB(r.identity))
		}
	}
	return nil
}

// bind decides whether the local folder is the one the state describes
// (DESIGN invariant 8), from the identity the folder carries (r.identity,
// read before anything was written) and the one the state recorded. A
// state that recorded none (version 1) is taken to describe the folder
// when the folder holds at least one message the state delivered into it,
// or when the state knows of no such message. Otherwise r.unbound says
// why not, and the sync re-matches the state instead of reading missing
// files as deletions.
func (r *folderRun) bind() {
	st := r.st
	if st.identity != "" {
		switch {
		case r.identity == st.identity:
		case r.local == nil || len(r.local.all) == 0 && r.identity == "":
			r.unbound = fmt.Sprintf("the local folder %s is new or empty", r.job.dir)
		case r.identity == "":
			r.unbound = fmt.Sprintf("the local folder %s has no mailfetch identity (%s): it was created anew", r.job.dir, maildir.IDFile)
		default:
			r.unbound = fmt.Sprintf("the local folder %s is another one than the state describes (identity %s, not %s)", r.job.dir, r.identity, st.identity)
		}
		return
	}
	files := 0
	for _, m := range st.msgs {
		if m.localGone || isMDAUnique(m.unique) {
			continue
		}
		files++
		if _, ok := r.local.find(m.unique); ok {
			return
		}
	}
	if files > 0 {
		r.unbound = fmt.Sprintf("none of the %d messages the state knows is in the local folder %s", files, r.job.dir)
		if r.local == nil {
			r.unbound = fmt.Sprintf("the local folder of the %d messages the state knows does not exist", files)
		}
	}
}

// damagedState is the error for a state that cannot be read. Moving it
// away is safe: the folder's state is then rebuilt from the Maildir by
// re-matching, and nothing is fetched twice.
func damagedState(folder, path string, err error) error {
	return failure.Wrap(failure.LocalIO, fmt.Errorf(
		"imap: %s: state %s is damaged (%v): move it away and run again to rebuild it from the Maildir (nothing is fetched twice)", folder, path, err))
}

// append journals records (nothing in a dry run). Callers Sync where a
// later step depends on the records being durable.
func (r *folderRun) append(recs ...[]byte) {
	if r.dry || len(recs) == 0 {
		return
	}
	if err := r.j.Append(recs...); err != nil {
		r.soft(err)
		return
	}
	r.dirty = true
}

func (r *folderRun) syncJournal() error {
	if r.dry || !r.dirty {
		return nil
	}
	return r.j.Sync()
}

// soft records an error that does not stop the folder.
func (r *folderRun) soft(err error) {
	if r.softErr == nil {
		r.softErr = err
	}
}

// close compacts the journal (the in-memory state mirrors it) and closes
// it. The status mark that lets the next run skip the folder was set only
// if the sync completed; after a failure it is cleared. A completed sync
// also leaves a skip mark, when it can (saveMark).
func (r *folderRun) close(ok bool) error {
	err := r.compact(ok)
	r.j.Close()
	if err == nil && ok {
		r.saveMark()
	}
	return err
}

func (r *folderRun) compact(ok bool) error {
	if r.dry || (r.keep && !r.dirty) {
		return nil
	}
	if (!ok || r.softErr != nil) && r.st.status.valid {
		r.st.status = statusMark{}
		r.dirty = true
	}
	if !r.dirty && r.sel == nil {
		return nil // skipped, nothing new to record
	}
	r.st.vanished = false
	if err := r.j.Rewrite(r.st.snapshot()); err != nil {
		return fmt.Errorf("imap: %s: state: %w", r.name, err)
	}
	r.dirty = false
	return nil
}

// resolvePending settles the deliveries a crash left in doubt (DESIGN
// invariant 2): found in the folder means delivered; missing means fetch
// again. An MDA leaves nothing to look for: its pending deliveries are
// fetched again, which may duplicate (never lose) a message.
func (r *folderRun) resolvePending() error {
	if len(r.st.pending) == 0 {
		return nil
	}
	uids := make([]UID, 0, len(r.st.pending))
	for u := range r.st.pending {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for _, u := range uids {
		p := r.st.pending[u]
		switch {
		case r.mda || isMDAUnique(p.unique):
			r.refetch[u] = true
		case r.local == nil:
			// A dry run without a store cannot look: assume delivered.
		default:
			if _, ok := r.local.find(p.unique); ok {
				r.st.msgs[u] = p
				delete(r.st.pending, u)
				r.append(recD(u))
			} else {
				r.refetch[u] = true
			}
		}
	}
	return r.syncJournal()
}

// canSkip reports whether the folder needs no SELECT at all: STATUS says
// the same as when its last sync completed (UIDVALIDITY, UIDNEXT,
// MESSAGES, and HIGHESTMODSEQ, without which flag changes on the server
// cannot be seen), and nothing changed locally.
func (r *folderRun) canSkip() bool {
	stt, mark := r.job.f.Status, r.st.status
	switch {
	case stt == nil || !mark.valid || r.st.uidValidity == 0 || len(r.refetch) > 0 || r.unbound != "":
		return false
	case stt.UIDValidity != r.st.uidValidity || stt.UIDValidity != mark.uidValidity:
		return false
	case stt.UIDNext != mark.uidNext || stt.Messages == nil || *stt.Messages != mark.messages:
		return false
	}
	if r.mda {
		return true
	}
	if !r.condStore || stt.HighestModSeq == 0 || stt.HighestModSeq != mark.highestModSeq {
		return false
	}
	return !r.localChanged()
}

// localChanged reports whether a mail reader changed a message since the
// last sync: flags, or a file removed.
func (r *folderRun) localChanged() bool {
	return r.local != nil && r.localChangedIn(r.local)
}

// localChangedIn is localChanged against the listing ix.
func (r *folderRun) localChangedIn(ix *localIndex) bool {
	for _, m := range r.st.msgs {
		if m.localGone {
			if r.e.opt.ExpungeRemote {
				return true
			}
			continue
		}
		e, ok := ix.find(m.unique)
		if !ok || synced(e.Flags) != m.flags {
			return true
		}
	}
	return false
}

// msgPlan is what a sync does to one known message.
type msgPlan struct {
	uid                         UID
	m                           *msgRecord
	entry                       maildir.Entry
	base, server, local, result maildir.Flags
}

// syncSelected is the sync of a folder that needs a SELECT.
func (r *folderRun) syncSelected(ctx context.Context) error {
	sel, err := r.conn.Select(ctx, r.name, r.dry || r.mda)
	if err != nil {
		return err
	}
	r.sel = sel
	if sel.HighestModSeq == 0 {
		r.condStore = false // NOMODSEQ: this mailbox keeps no mod-sequences
	}

	switch {
	case r.unbound != "" || r.st.uidValidity != 0 && sel.UIDValidity != r.st.uidValidity:
		var why []string
		if r.unbound != "" {
			why = append(why, r.unbound)
		}
		if r.st.uidValidity != 0 && sel.UIDValidity != r.st.uidValidity {
			why = append(why, fmt.Sprintf("UIDVALIDITY changed from %d to %d", r.st.uidValidity, sel.UIDValidity))
		}
		if err := r.rematch(ctx, strings.Join(why, "; ")); err != nil {
			return err
		}
	case r.st.uidValidity == 0 && len(r.st.msgs) == 0 && r.local != nil && len(r.local.all) > 0:
		if err := r.rematch(ctx, "no state for this folder, but mail in its local copy"); err != nil {
			return err
		}
	case r.st.uidValidity == 0:
		r.st.uidValidity = sel.UIDValidity
		r.append(recU(sel.UIDValidity))
	}

	// After a re-match, which may take a while, this searches again.
	server, consistent, err := r.conn.SearchAll(ctx)
	if err != nil {
		return err
	}
	onServer := make(map[UID]bool, len(server))
	for _, u := range server {
		onServer[u] = true
	}
	if !consistent {
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name,
			Text: "the server's list of messages did not match its message count; deletions are left for the next run"})
	}

	// New: above the last UID handled and not known, plus deliveries a
	// crash left undone.
	var fresh []UID
	for _, u := range server {
		if (u > r.st.last && !r.st.known(u)) || r.refetch[u] {
			fresh = append(fresh, u)
		}
	}

	var plans []*msgPlan
	var expunged, localGone, expungeRemote []UID
	if !r.mda {
		if !r.rematched {
			if r.serverFlags, err = r.fetchFlags(ctx); err != nil {
				return err
			}
		}
		plans, localGone, expungeRemote = r.planFlags(onServer)
	}
	if consistent {
		for u := range r.st.msgs {
			if !onServer[u] {
				expunged = append(expunged, u)
			}
		}
		for u := range r.st.pending {
			if !onServer[u] {
				expunged = append(expunged, u)
			}
		}
		slices.Sort(expunged)
	}
	expunged, expungeRemote, localGone = r.guardDeletions(expunged, expungeRemote, localGone)

	metas, err := r.prepass(ctx, fresh)
	if err != nil {
		return err
	}
	var total int64
	for _, m := range metas {
		total += m.Size
	}
	r.e.emit(report.Event{Kind: report.FolderStart, Folder: r.name, Count: int64(len(metas)), Bytes: total})

	if r.dry {
		r.reportDry(metas, plans, expunged, expungeRemote)
		return nil
	}

	if err := r.fetchNew(ctx, metas); err != nil {
		return err
	}
	var undelivered []UID
	for _, u := range fresh {
		if !r.st.known(u) || r.refetch[u] {
			undelivered = append(undelivered, u)
		}
	}
	// last moves up to the highest UID on the server, but never past a new
	// message that was not delivered: it must be fetched next time.
	newLast := r.st.last
	if len(server) > 0 {
		newLast = max(newLast, server[len(server)-1])
	}
	for _, u := range undelivered {
		if u > r.st.last && u-1 < newLast {
			newLast = u - 1
		}
	}
	if newLast != r.st.last {
		r.st.last = newLast
		r.append(recL(newLast))
	}

	if err := r.applyFlags(ctx, plans); err != nil {
		return err
	}
	r.applyExpunged(expunged)
	if err := r.recordGone(ctx, localGone, onServer); err != nil {
		return err
	}
	if err := r.expungeRemote(ctx, expungeRemote); err != nil {
		return err
	}
	if err := r.syncJournal(); err != nil {
		return fmt.Errorf("imap: %s: state: %w", r.name, err)
	}

	if r.softErr == nil {
		modSeq := sel.HighestModSeq
		if len(expungeRemote) == 0 {
			// Only a shortcut for the next run: its failure (0) leaves
			// that run a look at the folder, and fails nothing here.
			after, _ := r.modSeqAfterPush(ctx)
			modSeq = max(modSeq, after)
		}
		r.st.status = statusMark{valid: true, uidValidity: sel.UIDValidity, uidNext: sel.UIDNext,
			messages: sel.Messages, highestModSeq: modSeq}
		if r.condStore {
			r.st.modSeq = modSeq
		}
	}
	return nil
}

// fetchFlags returns the server's flags of known messages: those changed
// since the last sync's HIGHESTMODSEQ with CONDSTORE (a message not listed
// kept its base flags), else all of them.
func (r *folderRun) fetchFlags(ctx context.Context) (map[UID]maildir.Flags, error) {
	var maxUID UID
	n := 0
	for u, m := range r.st.msgs {
		if !m.localGone {
			maxUID = max(maxUID, u)
			n++
		}
	}
	if maxUID == 0 || n == 0 {
		return map[UID]maildir.Flags{}, nil
	}
	// A HIGHESTMODSEQ lower than the one merged means the server rebuilt
	// its index without a new UIDVALIDITY: CHANGEDSINCE would miss changes.
	changedSince := uint64(0)
	if r.condStore && r.st.modSeq > 0 && r.sel.HighestModSeq >= r.st.modSeq {
		changedSince = r.st.modSeq
	}
	flags, err := r.conn.FetchFlags(ctx, maxUID, changedSince)
	if err != nil {
		return nil, err
	}
	out := make(map[UID]maildir.Flags, len(flags))
	for u, f := range flags {
		out[u] = fromIMAP(f)
	}
	return out, nil
}

// planFlags merges the flags of every known message still on the server,
// and sorts out those whose local file is gone: with ExpungeRemote they
// are to be expunged on the server, else they are marked gone locally and
// left on the server.
func (r *folderRun) planFlags(onServer map[UID]bool) (plans []*msgPlan, localGone, expungeRemote []UID) {
	uids := make([]UID, 0, len(r.st.msgs))
	for u := range r.st.msgs {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for _, u := range uids {
		m := r.st.msgs[u]
		if !onServer[u] || isMDAUnique(m.unique) {
			continue
		}
		if m.localGone {
			if r.e.opt.ExpungeRemote {
				expungeRemote = append(expungeRemote, u)
			}
			continue
		}
		p := &msgPlan{uid: u, m: m, base: m.flags, server: m.flags, local: m.flags}
		if f, ok := r.serverFlags[u]; ok {
			p.server = f
		}
		if r.local != nil {
			e, ok := r.local.find(m.unique)
			if !ok {
				if r.e.opt.ExpungeRemote {
					expungeRemote = append(expungeRemote, u)
				} else {
					localGone = append(localGone, u)
				}
				continue
			}
			p.entry, p.local = e, synced(e.Flags)
		}
		p.result = mergeFlags(p.base, p.server, p.local)
		if p.result != p.base || p.result != p.server || p.result != p.local {
			plans = append(plans, p)
		}
	}
	return plans, localGone, expungeRemote
}

// applyExpunged removes the local copies of messages expunged on the
// server and forgets them.
func (r *folderRun) applyExpunged(uids []UID) {
	for _, u := range uids {
		m := r.st.msgs[u]
		if m == nil {
			m = r.st.pending[u]
		}
		if m != nil && r.mf != nil && !isMDAUnique(m.unique) && !m.localGone {
			if e, ok := r.local.find(m.unique); ok {
				if err := r.mf.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					r.soft(fmt.Errorf("imap: %s: %w", r.name, err))
					continue
				}
				r.e.add(func(res *Result) { res.RemovedLocal++ })
				r.e.emit(report.Event{Kind: report.Deleted, Folder: r.name, ServerID: uidStr(u), Path: e.Path, Local: true})
			}
		}
		delete(r.st.msgs, u)
		delete(r.st.pending, u)
		delete(r.refetch, u)
		r.append(recX(u))
	}
}

// expungeRemote deletes from the server the messages deleted locally:
// \Deleted on exactly those UIDs, then UID EXPUNGE of exactly those UIDs
// (UIDPLUS). Never a plain EXPUNGE, which would also remove other
// messages marked \Deleted, and never go-imap's MOVE fallback.
func (r *folderRun) expungeRemote(ctx context.Context, uids []UID) error {
	if len(uids) == 0 {
		return nil
	}
	if !r.conn.Caps().UIDPlus {
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: fmt.Sprintf(
			"%d message(s) deleted locally stay on the server: it lacks UIDPLUS, and a plain EXPUNGE could remove other mail", len(uids))})
		return r.recordGone(ctx, uids, nil)
	}
	if err := r.conn.Expunge(ctx, uids); err != nil {
		return err
	}
	for _, u := range uids {
		delete(r.st.msgs, u)
		r.append(recX(u))
		r.e.emit(report.Event{Kind: report.Deleted, Folder: r.name, ServerID: uidStr(u)})
	}
	r.e.add(func(res *Result) { res.RemovedRemote += len(uids) })
	return nil
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

// guardDeletions holds back the deletions of this run that would be mass
// deletions (see massDeletion), on either side, and records why as the
// folder's error (failure.Guard): the rest of the folder syncs. Messages
// deleted locally whose expunge on the server is held back are recorded
// as deleted locally (they stay on the server and are not fetched again),
// so that a later run with AllowMassDelete expunges them.
func (r *folderRun) guardDeletions(expunged, expungeRemote, localGone []UID) ([]UID, []UID, []UID) {
	if r.e.opt.AllowMassDelete {
		return expunged, expungeRemote, localGone
	}
	var why []string
	known, files := 0, 0
	for _, m := range r.st.msgs {
		if !m.localGone && !isMDAUnique(m.unique) {
			known++
		}
	}
	for _, u := range expunged {
		if m := r.st.msgs[u]; m != nil && !m.localGone && !isMDAUnique(m.unique) {
			if _, ok := r.local.find(m.unique); ok {
				files++
			}
		}
	}
	if massDeletion(files, known) {
		why = append(why, fmt.Sprintf("refusing to remove %d of the %d local messages of %s because the server no longer lists them", files, known, r.job.dir))
		expunged = nil
	}
	if n, total := len(expungeRemote), int(r.sel.Messages); massDeletion(n, total) {
		why = append(why, fmt.Sprintf("refusing to delete %d of the %d messages on the server because they are missing from %s", n, total, r.job.dir))
		localGone = append(localGone, expungeRemote...)
		expungeRemote = nil
	}
	if len(why) > 0 {
		r.soft(failure.New(failure.Guard, fmt.Sprintf("imap: %s: %s; nothing was deleted: if that is what you want, run again with --allow-mass-delete", r.name, strings.Join(why, "; and "))))
	}
	return expunged, expungeRemote, localGone
}

// recordGone records that the local files of uids were removed: the
// messages stay on the server and are not fetched again. Each R record
// carries the message's match key (fetched from the server: its header),
// so that the deletion outlives a change of UIDVALIDITY; deletions
// recorded without a key by an older mailfetch get theirs too, when their
// messages are on the server (onServer; nil: none looked for).
func (r *folderRun) recordGone(ctx context.Context, uids []UID, onServer map[UID]bool) error {
	var need []UID
	for _, u := range uids {
		if m := r.st.msgs[u]; m != nil && !m.localGone {
			need = append(need, u)
		}
	}
	for u, m := range r.st.msgs {
		if m.localGone && m.goneKey == "" && onServer[u] {
			need = append(need, u)
		}
	}
	if len(need) == 0 {
		return nil
	}
	slices.Sort(need)
	keys, err := r.fetchKeys(ctx, need)
	for _, u := range need {
		m := r.st.msgs[u]
		if m.localGone && keys[u] == "" {
			continue
		}
		m.localGone = true
		m.goneKey = keys[u]
		r.append(recR(u, m.goneKey))
	}
	return err
}

// fetchKeys returns the match keys of uids, from their headers.
func (r *folderRun) fetchKeys(ctx context.Context, uids []UID) (map[UID]string, error) {
	headers, err := r.conn.FetchHeaders(ctx, uids)
	out := make(map[UID]string, len(headers))
	for u, h := range headers {
		out[u] = matchKeyOf(h)
	}
	return out, err
}

// reportDry emits what a run would do, and does nothing.
func (r *folderRun) reportDry(metas []imapconn.Meta, plans []*msgPlan, expunged, expungeRemote []UID) {
	for _, m := range metas {
		ev := report.Event{Kind: report.WouldFetch, Folder: r.name, ServerID: uidStr(m.UID), Size: m.Size, Flags: string(fromIMAP(m.Flags))}
		if env := m.Envelope; env != nil {
			ev.Subject, ev.MessageID, ev.Date, ev.From = env.Subject, env.MessageID, env.Date, env.From
		}
		r.e.emit(ev)
	}
	for _, p := range plans {
		if p.result != p.server {
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(p.uid), Flags: string(p.result),
				Text: fmt.Sprintf("would set flags %q on the server (now %q)", p.result, p.server)})
		}
		if p.result != p.local && r.local != nil {
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(p.uid), Flags: string(p.result), Local: true,
				Path: p.entry.Path, Text: fmt.Sprintf("would set flags %q locally (now %q)", p.result, p.local)})
		}
	}
	for _, u := range expunged {
		m := r.st.msgs[u]
		if m == nil || r.local == nil || m.localGone || isMDAUnique(m.unique) {
			continue
		}
		if e, ok := r.local.find(m.unique); ok {
			r.e.emit(report.Event{Kind: report.WouldDelete, Folder: r.name, ServerID: uidStr(u), Path: e.Path, Local: true,
				Text: "expunged on the server"})
		}
	}
	if len(expungeRemote) > 0 && !r.conn.Caps().UIDPlus {
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: fmt.Sprintf(
			"%d message(s) deleted locally would stay on the server: it lacks UIDPLUS", len(expungeRemote))})
		return
	}
	for _, u := range expungeRemote {
		r.e.emit(report.Event{Kind: report.WouldDelete, Folder: r.name, ServerID: uidStr(u), Text: "deleted locally"})
	}
}
