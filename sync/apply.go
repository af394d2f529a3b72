package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// syncSelected is the sync of a folder that needs a SELECT: select it
// (re-matching the state where it cannot be trusted), look at the server,
// plan, and apply the plan.
func (r *folderRun) syncSelected(ctx context.Context) error {
	flags, err := r.selectFolder(ctx)
	if err != nil {
		return err
	}
	srv, err := r.serverView(ctx, flags)
	if err != nil {
		return err
	}
	rules := planRules{mda: r.mda, expungeRemote: r.e.opt.ExpungeRemote, allowMassDelete: r.e.opt.AllowMassDelete,
		folder: r.name, dir: r.job.dir}
	return r.apply(ctx, srv, planFolder(r.st, r.local, srv, r.refetch, rules))
}

// selectFolder selects the folder and makes the state one that describes
// it: re-matched when its UIDs cannot be trusted (a new UIDVALIDITY, a
// local folder that is not the one the state describes) or are not known
// (no state, but mail in the local folder). After a re-match it returns
// the server's flags the re-match fetched; else nil.
func (r *folderRun) selectFolder(ctx context.Context) (map[UID]maildir.Flags, error) {
	sel, err := r.conn.Select(ctx, r.name, r.dry || r.mda)
	if err != nil {
		return nil, err
	}
	r.sel = sel
	if sel.HighestModSeq == 0 {
		r.condStore = false // NOMODSEQ: this mailbox keeps no mod-sequences
	}
	var why []string
	if r.unbound != "" {
		why = append(why, r.unbound)
	}
	if r.st.uidValidity != 0 && sel.UIDValidity != r.st.uidValidity {
		why = append(why, fmt.Sprintf("UIDVALIDITY changed from %d to %d", r.st.uidValidity, sel.UIDValidity))
	}
	switch {
	case len(why) > 0:
		return r.rematch(ctx, strings.Join(why, "; "))
	case r.st.uidValidity == 0 && len(r.st.msgs) == 0 && r.local != nil && len(r.local.all) > 0:
		return r.rematch(ctx, "no state for this folder, but mail in its local copy")
	case r.st.uidValidity == 0:
		r.st.uidValidity = sel.UIDValidity
		r.append(recU(sel.UIDValidity))
	}
	return nil, nil
}

// serverView asks the server what the plan needs: the UIDs on it (after
// a re-match, which may take a while, searched again), and the flags of
// known messages unless a re-match fetched them (rematched) or the sync
// is an MDA's.
func (r *folderRun) serverView(ctx context.Context, rematched map[UID]maildir.Flags) (*serverView, error) {
	uids, complete, err := r.conn.SearchAll(ctx)
	if err != nil {
		return nil, err
	}
	if !complete {
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name,
			Text: "the server's list of messages did not match its message count; deletions are left for the next run"})
	}
	flags := rematched
	if !r.mda && flags == nil {
		if flags, err = r.fetchFlags(ctx); err != nil {
			return nil, err
		}
	}
	return newServerView(r.sel, uids, complete, flags), nil
}

// apply carries out a plan, in the order of DESIGN invariant 1: new mail
// fetched and committed, then flags both ways, then deletions both ways,
// each journaled as it is done; then the status mark the next run
// compares STATUS with. A dry run reports the plan and does nothing.
func (r *folderRun) apply(ctx context.Context, srv *serverView, p *folderPlan) error {
	if p.guard != nil {
		r.soft(p.guard)
	}
	metas, err := r.prepass(ctx, p.fresh)
	if err != nil {
		return err
	}
	var total int64
	for _, m := range metas {
		total += m.Size
	}
	r.e.emit(report.Event{Kind: report.FolderStart, Folder: r.name, Count: int64(len(metas)), Bytes: total})
	if r.dry {
		r.reportDry(metas, p)
		return nil
	}
	if err := r.fetchNew(ctx, metas); err != nil {
		return err
	}
	var undelivered []UID
	for _, u := range p.fresh {
		if !r.st.known(u) || r.refetch[u] {
			undelivered = append(undelivered, u)
		}
	}
	if last := lastHandled(r.st.last, srv.uids, undelivered); last != r.st.last {
		r.st.last = last
		r.append(recL(last))
	}
	pushed, err := r.applyFlags(ctx, p.flags)
	if err != nil {
		return err
	}
	r.applyExpunged(p.expunged)
	if err := r.recordGone(ctx, p.localGone, srv.on); err != nil {
		return err
	}
	if err := r.expungeRemote(ctx, p.expungeRemote); err != nil {
		return err
	}
	if err := r.syncJournal(); err != nil {
		return fmt.Errorf("imap: %s: state: %w", r.name, err)
	}
	if r.softErr == nil {
		r.markInStep(ctx, pushed, len(p.expungeRemote) > 0)
	}
	return nil
}

// markInStep records the STATUS the folder has now that it is in step:
// the SELECT's, with the HIGHESTMODSEQ this run's own STOREs led to when
// they can be proven to be the folder's only change (modSeqAfterPush).
// An expunge of ours changes the folder in a way no proof covers.
func (r *folderRun) markInStep(ctx context.Context, pushed *pushResult, expunged bool) {
	sel := r.sel
	modSeq := sel.HighestModSeq
	if !expunged {
		// Only a shortcut for the next run: its failure (0) leaves that
		// run a look at the folder, and fails nothing here.
		after, _ := r.modSeqAfterPush(ctx, pushed)
		modSeq = max(modSeq, after)
	}
	r.st.status = statusMark{valid: true, uidValidity: sel.UIDValidity, uidNext: sel.UIDNext,
		messages: sel.Messages, highestModSeq: modSeq}
	if r.condStore {
		r.st.modSeq = modSeq
	}
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

// applyFlags carries out the merged flags: STOREs on the server first
// (grouped, UNCHANGEDSINCE with CONDSTORE), then renames of the local
// files, then the new merge bases in the journal. A message whose STORE
// the server did not confirm (a concurrent change refused by
// UNCHANGEDSINCE, whose MODIFIED list go-imap drops) keeps its old base
// and local file: the next run merges it again.
func (r *folderRun) applyFlags(ctx context.Context, plans []*msgPlan) (*pushResult, error) {
	pushed := &pushResult{flags: map[UID]maildir.Flags{}}
	if len(plans) == 0 {
		return pushed, nil
	}
	changes := map[UID]imapconn.FlagChange{}
	for _, p := range plans {
		if p.result != p.server {
			add, del := diffFlags(p.server, p.result)
			changes[p.uid] = imapconn.FlagChange{Add: toIMAP(add), Remove: toIMAP(del)}
		}
	}
	unchangedSince := uint64(0)
	if r.condStore && r.sel != nil {
		unchangedSince = r.sel.HighestModSeq
	}
	confirmed, err := r.conn.Store(ctx, changes, unchangedSince)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if ok, stored := confirmed[p.uid]; stored && !ok {
			pushed.incomplete = true
			continue // not confirmed: merged again next run
		}
		if p.result != p.server {
			pushed.flags[p.uid] = p.result
			r.e.add(func(res *Result) { res.FlagsPushed++ })
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(p.uid), Flags: string(p.result)})
		}
		if p.result != p.local && r.mf != nil {
			want := maildir.ParseFlags(string(p.result) + string(localOnly(p.entry.Flags)))
			path, err := r.mf.SetFlags(p.entry.Path, want)
			if err != nil {
				// Renamed by a mail reader meanwhile, or an error of the
				// disk: the base stays, so the next run merges again.
				if !errors.Is(err, fs.ErrNotExist) {
					r.soft(fmt.Errorf("imap: %s: %w", r.name, err))
				}
				continue
			}
			r.e.add(func(res *Result) { res.FlagsPulled++ })
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(p.uid), Flags: string(p.result), Path: path, Local: true})
		}
		if p.result != p.m.flags {
			p.m.flags = p.result
			r.append(recF(p.uid, p.result))
		}
	}
	return pushed, nil
}

// pushResult is what applyFlags set on the server: the flags, by UID;
// incomplete: a STORE was not confirmed.
type pushResult struct {
	flags      map[UID]maildir.Flags
	incomplete bool
}

// modSeqAfterPush returns the folder's HIGHESTMODSEQ after this run's own
// UID STOREs, when it can prove that they were the only changes since the
// SELECT: a UID FETCH (CHANGEDSINCE the SELECT's) must list exactly the
// messages pushed, each with the flags pushed. Then the next run's STATUS
// still finds the folder unchanged (its mark is not spoilt by our own
// change). It returns 0 when there is nothing to prove or the proof
// fails: the next run then looks at the folder once more, as without it.
func (r *folderRun) modSeqAfterPush(ctx context.Context, pushed *pushResult) (uint64, error) {
	if len(pushed.flags) == 0 || pushed.incomplete || !r.condStore || r.sel == nil || r.sel.HighestModSeq == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if hook := r.e.opt.beforePushProof; hook != nil {
		hook(r.name)
	}
	changes, err := r.conn.FetchChanges(ctx, r.sel.HighestModSeq)
	if err != nil {
		return 0, err
	}
	ours, seen := true, 0
	var highest uint64
	for _, c := range changes {
		want, ok := pushed.flags[c.UID]
		if !ok || !c.HasFlags || fromIMAP(c.Flags) != want || c.ModSeq == 0 {
			ours = false
			continue
		}
		seen++
		highest = max(highest, c.ModSeq)
	}
	if !ours || seen != len(pushed.flags) || highest <= r.sel.HighestModSeq {
		return 0, nil
	}
	return highest, nil
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
func (r *folderRun) reportDry(metas []imapconn.Meta, p *folderPlan) {
	for _, m := range metas {
		ev := report.Event{Kind: report.WouldFetch, Folder: r.name, ServerID: uidStr(m.UID), Size: m.Size, Flags: string(fromIMAP(m.Flags))}
		if env := m.Envelope; env != nil {
			ev.Subject, ev.MessageID, ev.Date, ev.From = env.Subject, env.MessageID, env.Date, env.From
		}
		r.e.emit(ev)
	}
	for _, mp := range p.flags {
		if mp.result != mp.server {
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(mp.uid), Flags: string(mp.result),
				Text: fmt.Sprintf("would set flags %q on the server (now %q)", mp.result, mp.server)})
		}
		if mp.result != mp.local && r.local != nil {
			r.e.emit(report.Event{Kind: report.FlagsChanged, Folder: r.name, ServerID: uidStr(mp.uid), Flags: string(mp.result), Local: true,
				Path: mp.entry.Path, Text: fmt.Sprintf("would set flags %q locally (now %q)", mp.result, mp.local)})
		}
	}
	for _, u := range p.expunged {
		m := r.st.msgs[u]
		if m == nil || r.local == nil || m.localGone || isMDAUnique(m.unique) {
			continue
		}
		if e, ok := r.local.find(m.unique); ok {
			r.e.emit(report.Event{Kind: report.WouldDelete, Folder: r.name, ServerID: uidStr(u), Path: e.Path, Local: true,
				Text: "expunged on the server"})
		}
	}
	if len(p.expungeRemote) > 0 && !r.conn.Caps().UIDPlus {
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: fmt.Sprintf(
			"%d message(s) deleted locally would stay on the server: it lacks UIDPLUS", len(p.expungeRemote))})
		return
	}
	for _, u := range p.expungeRemote {
		r.e.emit(report.Event{Kind: report.WouldDelete, Folder: r.name, ServerID: uidStr(u), Text: "deleted locally"})
	}
}
