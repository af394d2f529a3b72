package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"

	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// syncedFlags are the Maildir flags that have an IMAP system flag. Others
// (P, Dovecot's keyword letters) stay local: they are kept in the file name
// and never sent.
const syncedFlags = "DFRST"

// flagMap pairs each synced Maildir flag with its IMAP flag.
var flagMap = []struct {
	letter byte
	flag   imapconn.Flags
}{
	{maildir.FlagDraft, imapconn.Draft},
	{maildir.FlagFlagged, imapconn.Flagged},
	{maildir.FlagReplied, imapconn.Answered},
	{maildir.FlagSeen, imapconn.Seen},
	{maildir.FlagTrashed, imapconn.Deleted},
}

// fromIMAP maps IMAP flags to the synced Maildir flags.
func fromIMAP(f imapconn.Flags) maildir.Flags {
	var b []byte
	for _, m := range flagMap {
		if f&m.flag != 0 {
			b = append(b, m.letter)
		}
	}
	return maildir.ParseFlags(string(b))
}

// toIMAP maps synced Maildir flags to IMAP flags.
func toIMAP(f maildir.Flags) imapconn.Flags {
	var out imapconn.Flags
	for _, m := range flagMap {
		if f.Has(m.letter) {
			out |= m.flag
		}
	}
	return out
}

// synced keeps the synced flags of f.
func synced(f maildir.Flags) maildir.Flags {
	var b []byte
	for i := 0; i < len(f); i++ {
		if strings.IndexByte(syncedFlags, f[i]) >= 0 {
			b = append(b, f[i])
		}
	}
	return maildir.Flags(b)
}

// localOnly keeps the flags of f that are not synced.
func localOnly(f maildir.Flags) maildir.Flags {
	var b []byte
	for i := 0; i < len(f); i++ {
		if strings.IndexByte(syncedFlags, f[i]) < 0 {
			b = append(b, f[i])
		}
	}
	return maildir.Flags(b)
}

// mergeFlags is the three-way merge of one message's synced flags: base is
// what both sides last agreed on, server and local what they hold now. Each
// flag is decided on its own: kept when both sides have it, dropped when
// neither has it, and when only one side has it, that side's change wins:
// a side that has it and did not have it in the base added it (so it is
// set: additions are a union), and a side that lacks it while the base had
// it removed it (so it is cleared: a removal wins only when the other side
// did not add the flag, which for a single flag means the other side left
// it alone).
func mergeFlags(base, server, local maildir.Flags) maildir.Flags {
	var b []byte
	for i := 0; i < len(syncedFlags); i++ {
		c := syncedFlags[i]
		s, l, was := server.Has(c), local.Has(c), base.Has(c)
		switch {
		case s && l:
			b = append(b, c)
		case s != l && !was: // one side added it
			b = append(b, c)
		}
	}
	return maildir.Flags(b)
}

// diffFlags returns the flags in want that have is missing (to add) and
// those in have that want lacks (to remove).
func diffFlags(have, want maildir.Flags) (add, del maildir.Flags) {
	var a, d []byte
	for i := 0; i < len(syncedFlags); i++ {
		c := syncedFlags[i]
		switch {
		case want.Has(c) && !have.Has(c):
			a = append(a, c)
		case !want.Has(c) && have.Has(c):
			d = append(d, c)
		}
	}
	return maildir.Flags(a), maildir.Flags(d)
}

// applyFlags carries out the merged flags: STOREs on the server first
// (grouped, UNCHANGEDSINCE with CONDSTORE), then renames of the local
// files, then the new merge bases in the journal. A message whose STORE
// the server did not confirm (a concurrent change refused by
// UNCHANGEDSINCE, whose MODIFIED list go-imap drops) keeps its old base
// and local file: the next run merges it again.
func (r *folderRun) applyFlags(ctx context.Context, plans []*msgPlan) error {
	if len(plans) == 0 {
		return nil
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
		return err
	}
	for _, p := range plans {
		if ok, stored := confirmed[p.uid]; stored && !ok {
			r.pushIncomplete = true
			continue // not confirmed: merged again next run
		}
		if p.result != p.server {
			r.pushed[p.uid] = p.result
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
	return nil
}

// modSeqAfterPush returns the folder's HIGHESTMODSEQ after this run's own
// UID STOREs, when it can prove that they were the only changes since the
// SELECT: a UID FETCH (CHANGEDSINCE the SELECT's) must list exactly the
// messages pushed, each with the flags pushed. Then the next run's STATUS
// still finds the folder unchanged (its mark is not spoilt by our own
// change). It returns 0 when there is nothing to prove or the proof
// fails: the next run then looks at the folder once more, as without it.
func (r *folderRun) modSeqAfterPush(ctx context.Context) (uint64, error) {
	if len(r.pushed) == 0 || r.pushIncomplete || !r.condStore || r.sel == nil || r.sel.HighestModSeq == 0 {
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
		want, pushed := r.pushed[c.UID]
		if !pushed || !c.HasFlags || fromIMAP(c.Flags) != want || c.ModSeq == 0 {
			ours = false
			continue
		}
		seen++
		highest = max(highest, c.ModSeq)
	}
	if !ours || seen != len(r.pushed) || highest <= r.sel.HighestModSeq {
		return 0, nil
	}
	return highest, nil
}
