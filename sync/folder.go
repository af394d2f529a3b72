package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

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

// folderRun is the sync of one folder. Its parts are grouped by what
// they describe: the folder's state and journal, its local copy, and what
// the run did. The plan step sees none of it but the state and the local
// listing (planFolder); the rest is the apply step's.
type folderRun struct {
	e    *engine
	job  *folderJob
	name string
	dry  bool
	mda  bool

	conn imapconn.Conn      // nil until the folder needs the server
	sel  *imapconn.Selected // the SELECT's answer; nil while not selected
	// condStore: mod-sequences can be used (CONDSTORE, and not NOMODSEQ).
	condStore bool

	folderStateRun
	folderLocal

	// softErr is the first error that did not stop the folder (one file
	// that could not be renamed): the folder completes and reports it.
	softErr   error
	delivered int
	bytes     int64
}

// folderStateRun is a folder's state as a run keeps it: replayed from its
// journal, changed as records are appended.
type folderStateRun struct {
	st *folderState
	j  stateJournal
	// dirty: records were appended since the journal was last compacted.
	dirty bool
	// keep: close without touching the journal (the folder goes to another
	// worker).
	keep bool
	// refetch: deliveries left pending by a crash whose file is missing.
	// They stay pending in the state until fetched again or expunged.
	refetch map[UID]bool
}

// folderLocal is the local side of a folder.
type folderLocal struct {
	mf     *maildir.Folder // the local folder; nil with an MDA and in a dry run
	target maildir.Target  // where new messages go; nil in a dry run
	local  *localIndex     // nil with an MDA, or in a dry run without a store
	// stamp was taken of mf just before it was listed into local;
	// stampOK: it can be trusted (see maildir.ReadStamp).
	stamp   maildir.Stamp
	stampOK bool
	// identity is the local folder's maildir identity ("" in a dry run
	// when it has none yet); unbound, when not "", says why the local
	// folder is not the one the state describes (DESIGN invariant 8): then
	// a missing file is no local deletion and the state is re-matched.
	identity string
	unbound  string
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
		condStore:      e.caps.CondStore,
		folderStateRun: folderStateRun{refetch: map[UID]bool{}},
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
	if err := r.openState(); err != nil {
		return err
	}
	var err error
	switch {
	case r.mda:
		r.target = r.e.opt.MDA
	case r.dry:
		if r.job.dir != "" {
			err = r.viewLocal()
		}
	default:
		err = r.openLocal()
	}
	if err != nil {
		r.j.Close()
	}
	return err
}

// openState replays the folder's journal (only reads it in a dry run).
func (r *folderRun) openState() error {
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
	return nil
}

// viewLocal lists the local folder of a dry run, creating nothing.
func (r *folderRun) viewLocal() error {
	entries, err := scanReadOnly(r.job.dir)
	if err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("imap: %s: %w", r.name, err))
	}
	r.local = newLocalIndex(entries)
	if r.identity, err = maildir.ReadID(r.job.dir); err != nil {
		return fmt.Errorf("imap: %s: %w", r.name, err)
	}
	r.bind()
	return nil
}

// openLocal opens (creating it where missing) and lists the local folder,
// and binds the state to it.
func (r *folderRun) openLocal() error {
	mf, err := r.e.opt.Store.Folder(r.job.path)
	if err != nil {
		return fmt.Errorf("imap: %s: %w", r.name, err)
	}
	old, err := maildir.ReadID(mf.Dir())
	if err != nil {
		return fmt.Errorf("imap: %s: %w", r.name, err)
	}
	// A failed Stamp only means no skip mark this time.
	r.stamp, r.stampOK, _ = maildir.ReadStamp(mf.Dir())
	entries, err := mf.Scan()
	if err != nil {
		return fmt.Errorf("imap: %s: %w", r.name, err)
	}
	r.mf, r.target, r.local = mf, mf, newLocalIndex(entries)
	r.identity = old
	r.bind()
	// The folder keeps its identity from now on; a bound state that did
	// not record it yet (version 1) records it now. An unbound one is
	// rebuilt with it by the re-match.
	if r.identity, err = mf.ID(); err != nil {
		return fmt.Errorf("imap: %s: %w", r.name, err)
	}
	if r.unbound == "" && r.st.identity != r.identity {
		r.st.identity = r.identity
		r.append(recB(r.identity))
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
