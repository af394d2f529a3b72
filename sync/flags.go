package sync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

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
	flag   imap.Flag
}{
	{maildir.FlagDraft, imap.FlagDraft},
	{maildir.FlagFlagged, imap.FlagFlagged},
	{maildir.FlagReplied, imap.FlagAnswered},
	{maildir.FlagSeen, imap.FlagSeen},
	{maildir.FlagTrashed, imap.FlagDeleted},
}

// fromIMAP maps IMAP flags to the synced Maildir flags; keywords and
// \Recent are dropped. IMAP flags are case-insensitive (RFC 3501 2.3.2).
func fromIMAP(flags []imap.Flag) maildir.Flags {
	var b []byte
	for _, f := range flags {
		for _, m := range flagMap {
			if strings.EqualFold(string(f), string(m.flag)) {
				b = append(b, m.letter)
			}
		}
	}
	return maildir.ParseFlags(string(b))
}

// toIMAP maps synced Maildir flags to IMAP flags, in a stable order.
func toIMAP(f maildir.Flags) []imap.Flag {
	var out []imap.Flag
	for _, m := range flagMap {
		if f.Has(m.letter) {
			out = append(out, m.flag)
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

// storeOp is one UID STORE: the same flags added or removed on a set of
// messages. Changes are grouped so that a reader marking 500 messages read
// costs one command, not 500.
type storeOp struct {
	add   bool
	flags maildir.Flags
	uids  []imap.UID
}

// groupStores groups per-message flag changes into STORE commands: one per
// distinct (add/remove, flags) pair, in a stable order.
func groupStores(changes map[imap.UID][2]maildir.Flags) []storeOp {
	type key struct {
		add   bool
		flags maildir.Flags
	}
	byKey := map[key][]imap.UID{}
	for uid, c := range changes {
		if c[0] != "" {
			byKey[key{true, c[0]}] = append(byKey[key{true, c[0]}], uid)
		}
		if c[1] != "" {
			byKey[key{false, c[1]}] = append(byKey[key{false, c[1]}], uid)
		}
	}
	ops := make([]storeOp, 0, len(byKey))
	for k, uids := range byKey {
		slices.Sort(uids)
		ops = append(ops, storeOp{add: k.add, flags: k.flags, uids: uids})
	}
	slices.SortFunc(ops, func(a, b storeOp) int {
		if a.add != b.add {
			if a.add {
				return -1
			}
			return 1
		}
		return strings.Compare(string(a.flags), string(b.flags))
	})
	return ops
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
	s := r.s
	changes := map[imap.UID][2]maildir.Flags{}
	for _, p := range plans {
		if p.result != p.server {
			add, del := diffFlags(p.server, p.result)
			changes[p.uid] = [2]maildir.Flags{add, del}
		}
	}
	confirmed := map[imap.UID]bool{}
	unchangedSince := uint64(0)
	if r.condStore && r.sel != nil {
		unchangedSince = r.sel.HighestModSeq
	}
	for _, op := range groupStores(changes) {
		set, ok := uidSetOf(op.uids)
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sf := &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: toIMAP(op.flags)}
		if op.add {
			sf.Op = imap.StoreFlagsAdd
		}
		var so *imap.StoreOptions
		if unchangedSince > 0 {
			so = &imap.StoreOptions{UnchangedSince: unchangedSince}
		}
		cmd := s.c.Store(set, sf, so)
		answered := map[imap.UID]bool{}
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			var uid imap.UID
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = it.UID
				case imapclient.FetchItemDataModSeq:
					// Our own change raises the message's mod-sequence: a
					// second STORE on it (a flag added, another removed)
					// must not be refused for it.
					unchangedSince = max(unchangedSince, it.ModSeq)
				}
			}
			if uid != 0 {
				answered[uid] = true
			}
		}
		if err := cmd.Close(); err != nil {
			return s.fail(fmt.Errorf("imap: %s: UID STORE %s: %w", r.name, storeText(op), err))
		}
		for _, u := range op.uids {
			if answered[u] {
				if _, seen := confirmed[u]; !seen {
					confirmed[u] = true
				}
			} else {
				confirmed[u] = false
			}
		}
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

// beforePushProof, when set (by tests), runs just before modSeqAfterPush
// asks the server: another client's change there must spoil the proof.
var beforePushProof func(folder string)

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
	if beforePushProof != nil {
		beforePushProof(r.name)
	}
	cmd := r.s.c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, ModSeq: true, ChangedSince: r.sel.HighestModSeq})
	ours, seen := true, 0
	var highest uint64
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		m, err := r.s.collect(msg)
		if err != nil {
			r.s.abort()
			r.s.drain(cmd)
			return 0, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (CHANGEDSINCE): %w", r.name, err))
		}
		want, pushed := r.pushed[m.uid]
		if !pushed || !m.hasFlags || synced(fromIMAP(m.flags)) != want || m.modSeq == 0 {
			ours = false
			continue
		}
		seen++
		highest = max(highest, m.modSeq)
	}
	if err := cmd.Close(); err != nil {
		return 0, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (CHANGEDSINCE): %w", r.name, err))
	}
	if !ours || seen != len(r.pushed) || highest <= r.sel.HighestModSeq {
		return 0, nil
	}
	return highest, nil
}

func storeText(op storeOp) string {
	sign := "-"
	if op.add {
		sign = "+"
	}
	var names []string
	for _, f := range toIMAP(op.flags) {
		names = append(names, string(f))
	}
	return sign + "FLAGS (" + strings.Join(names, " ") + ")"
}
