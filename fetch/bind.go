package fetch

import (
	"context"
	"fmt"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// binding is what a run decided about the state and the Maildir it
// delivers into (DESIGN invariant 8): whether the state's "done" set
// describes this folder.
type binding struct {
	mode bindMode
	// dir is the folder's directory, "" without one (an MDA).
	dir string
	// folderID is the folder's identity as read at the start, "" when
	// it has none yet.
	folderID string
	// why says, for bindRematch, why the state is not trusted: the start
	// of the notice.
	why string
}

type bindMode int

const (
	// bindNone: no Maildir folder (an MDA, or a dry run not told where
	// the Maildir is): the state is trusted as it is.
	bindNone bindMode = iota
	// bindOK: the state names this folder's identity.
	bindOK
	// bindUpgrade: a state without an identity but with messages (written
	// by version 1): taken as this folder's, and bound to it.
	bindUpgrade
	// bindFresh: an empty state without an identity: bound to the folder.
	bindFresh
	// bindRematch: the state names another folder, or is empty over a
	// folder that already holds mail in keep mode. Its "done" set is not
	// trusted: a message counts as delivered only if a file with its
	// content is in this folder.
	bindRematch
)

// maildirDir is the directory of the Maildir folder the run delivers into,
// or reads in a dry run; "" when there is none.
func (r *runner) maildirDir() string {
	if r.mbox != nil {
		return r.mbox.Dir()
	}
	return ""
}

// decideBinding compares the state's identity with the folder's. It reads
// and creates nothing but the identity file's content (a dry run can use
// it); recording the binding is bindState's job, once the server's
// listing is known.
func (r *runner) decideBinding() (binding, error) {
	b := binding{mode: bindNone, dir: r.maildirDir()}
	if b.dir == "" {
		return b, nil
	}
	id, err := r.mbox.ReadID()
	if err != nil {
		return b, err
	}
	b.folderID = id
	st := r.st
	switch {
	case st.bound != "" && st.bound == id:
		b.mode = bindOK
	case st.bound != "":
		b.mode = bindRematch
		what := "it has no mailfetch identity: created anew, or not the Maildir meant?"
		if id != "" {
			what = "it is another Maildir, identity " + id
		}
		b.why = fmt.Sprintf("the Maildir %s is not the one this state describes (%s)", b.dir, what)
	case len(st.entries) > 0:
		b.mode = bindUpgrade
	case r.opt.Keep:
		has, err := r.mbox.HasMessages()
		if err != nil {
			return b, err
		}
		b.mode = bindFresh
		if has {
			b.mode = bindRematch
			b.why = fmt.Sprintf("there is no state for this account yet (a new state directory?) but the Maildir %s already holds mail", b.dir)
		}
	default:
		b.mode = bindFresh
	}
	return b, nil
}

// rematchResult is what a re-match found.
type rematchResult struct {
	// here lists, by message number, the server's messages found in the
	// folder.
	here     map[int]bool
	byID     int // of them, matched by Message-ID and size
	byHeader int // matched by header digest and size (no Message-ID)
	// noTop: the server refused TOP, so nothing could be matched.
	noTop bool
	// skipped: --all fetches everything, so nothing was matched.
	skipped bool
}

// rematch replaces a state that does not describe this folder by what the
// folder holds: each server message whose content (Message-ID and size,
// or header digest and size; see maildir.MatchKey) is in a file of the
// folder is taken as delivered, with the first-fetched time the old state
// knew for it, if any; every other one is new. Each file pairs with one
// message at most. Nothing is written here; headers keeps what TOP said,
// for a dry run to show.
func (r *runner) rematch(ctx context.Context, s *session, b binding, msgs []serverMsg) (rematchResult, map[int]topInfo, error) {
	res := rematchResult{here: map[int]bool{}}
	old := r.st
	r.st = newState()
	r.st.bound = old.bound
	if r.opt.All {
		res.skipped = true
		return res, nil, nil
	}
	nums := make([]int, len(msgs))
	for i, m := range msgs {
		nums[i] = m.Num
	}
	infos, err := s.headers(ctx, nums, r.opt.DryRun)
	if err != nil {
		return res, nil, err
	}
	if len(infos) == 0 && len(msgs) > 0 {
		res.noTop = true
		return res, infos, nil
	}
	want := make([]maildir.MatchKey, 0, len(infos))
	for _, m := range msgs {
		if in, ok := infos[m.Num]; ok {
			want = append(want, maildir.MatchKey{HeaderKey: in.key, Size: m.Size})
		}
	}
	ix, err := r.mbox.Index(want, nil)
	if err != nil {
		return res, nil, failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: looking for the server's messages in %s: %w", b.dir, err))
	}
	t := r.clock()
	for _, m := range msgs {
		in, ok := infos[m.Num]
		if !ok {
			continue
		}
		if _, found := ix.Take(maildir.MatchKey{HeaderKey: in.key, Size: m.Size}); !found {
			continue
		}
		res.here[m.Num] = true
		if in.key.MessageID != "" {
			res.byID++
		} else {
			res.byHeader++
		}
		if m.UIDL != "" {
			first := old.firstFetched(m.UIDL)
			if first.IsZero() {
				first = t
			}
			r.st.apply(record{Kind: recDone, UIDL: m.UIDL, Time: first})
		}
	}
	return res, infos, nil
}

// bindState records, before anything is delivered, that the state
// describes this folder: the folder's identity (created now, durably, if
// it has none) in a B record, and the state as decided (the old entries
// for an upgrade, what was matched for a re-match) in one atomic rewrite
// of the journal. A crash before the rewrite leaves the old journal, and
// the next run decides again.
func (r *runner) bindState(b binding) error {
	switch b.mode {
	case bindUpgrade, bindFresh, bindRematch:
	default:
		return nil
	}
	id, err := r.mbox.ID()
	if err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: the identity of the Maildir %s: %w", b.dir, err))
	}
	r.st.bound = id
	return r.compact(func(string) bool { return true })
}

// rematchNotice is the one line that says why the state was not trusted
// and what the re-match found.
func rematchNotice(b binding, res rematchResult, p plan, keep bool) string {
	text := b.why + ": "
	switch {
	case res.skipped:
		text += "--all fetches every message"
	case res.noTop:
		text += "the server has no TOP, so its messages cannot be looked for there"
	default:
		text += fmt.Sprintf("matched %d messages already there by Message-ID", res.byID)
		if res.byHeader > 0 {
			text += fmt.Sprintf(" and %d without one by their header", res.byHeader)
		}
	}
	text += fmt.Sprintf(", fetching %d", len(p.fetch))
	if !keep && len(p.dele) > 0 {
		text += fmt.Sprintf(", deleting %d already there from the server", len(p.dele))
	}
	return text
}
