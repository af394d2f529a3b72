package imapconn

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Select implements Conn. The UID SEARCH ALL goes out with the SELECT,
// not after its reply: one round trip for both. If the SELECT fails, no
// mailbox is selected and the SEARCH fails too (RFC 3501 6.3.1); its
// reply is dropped, and the SELECT's error is the one returned.
func (s *Session) Select(ctx context.Context, name string, readOnly bool) (*Selected, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	s.mailbox, s.sel, s.uids, s.seqs = name, nil, nil, nil
	selCmd := s.c.Select(name, &imap.SelectOptions{ReadOnly: readOnly, CondStore: s.caps.Has(imap.CapCondStore)})
	search := s.c.UIDSearch(&imap.SearchCriteria{}, s.searchOptions())
	data, err := selCmd.Wait()
	if err != nil {
		_, _ = search.Wait()
		return nil, s.fail(fmt.Errorf("imap: SELECT %q: %w", name, err))
	}
	s.search = search
	s.sel = &Selected{Name: name, UIDValidity: data.UIDValidity, UIDNext: UID(data.UIDNext),
		Messages: data.NumMessages, HighestModSeq: data.HighestModSeq}
	return s.sel, nil
}

// searchOptions are those of UID SEARCH ALL: ESEARCH's RETURN (ALL),
// a compact sequence set, where the server has it.
func (s *Session) searchOptions() *imap.SearchOptions {
	if s.caps.Has(imap.CapESearch) {
		return &imap.SearchOptions{ReturnAll: true}
	}
	return nil
}

// SearchAll implements Conn. Its first answer is that of the UID SEARCH
// sent with the SELECT, unless another command of this connection went
// out since (its answer is then no longer the latest word); a count that
// does not match is checked once more after a NOOP.
func (s *Session) SearchAll(ctx context.Context) ([]UID, bool, error) {
	// go-imap completes SELECT's Wait before it records the selected
	// mailbox, so Mailbox() may still be nil (or stale) right after it:
	// the SELECT's own count comes first, Mailbox() only after a later
	// command completed.
	exists := s.sel.Messages
	pending := s.search
	s.search = nil
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, false, err // a pending SEARCH is left to complete alone
		}
		cmd := pending
		pending = nil
		if cmd == nil {
			if exists == 0 && attempt == 0 {
				s.uids = nil
				return nil, true, nil
			}
			cmd = s.c.UIDSearch(&imap.SearchCriteria{}, s.searchOptions())
		}
		data, err := cmd.Wait()
		if err != nil {
			return nil, false, s.fail(fmt.Errorf("imap: %s: UID SEARCH ALL: %w", s.mailbox, err))
		}
		limit := int(exists)*2 + 1024 // room for mail arriving meanwhile
		uids, ok := uidList(data.All, limit)
		if !ok {
			return nil, false, failure.New(failure.Other, fmt.Sprintf("imap: %s: UID SEARCH answered an impossible set for %d messages", s.mailbox, exists))
		}
		if mbox := s.c.Mailbox(); mbox != nil {
			exists = mbox.NumMessages
		}
		if len(uids) == int(exists) || attempt >= 1 {
			s.uids = uids
			return uids, len(uids) == int(exists), nil
		}
		// Mail arrived or left between the count and the search: a NOOP
		// brings the count up to date, then search again.
		if err := s.c.Noop().Wait(); err != nil {
			return nil, false, s.fail(fmt.Errorf("imap: %s: NOOP: %w", s.mailbox, err))
		}
		mbox := s.c.Mailbox()
		if mbox == nil {
			return nil, false, s.fail(fmt.Errorf("imap: %s: the server closed the folder", s.mailbox))
		}
		exists = mbox.NumMessages
	}
}

// fetchEach runs a FETCH whose answers carry no literal and gives each
// answer to each. A failed read aborts the connection.
func (s *Session) fetchEach(ctx context.Context, set imap.NumSet, opts *imap.FetchOptions, what string, each func(a *answer)) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	cmd := s.c.Fetch(set, opts)
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var a answer
		if err := s.read(msg, &a, nil); err != nil {
			s.Abort()
			s.drain(cmd)
			return s.fail(fmt.Errorf("imap: %s: %s: %w", s.mailbox, what, err))
		}
		each(&a)
	}
	if err := cmd.Close(); err != nil {
		return s.fail(fmt.Errorf("imap: %s: %s: %w", s.mailbox, what, err))
	}
	return nil
}

// FetchFlags implements Conn.
func (s *Session) FetchFlags(ctx context.Context, upTo UID, changedSince uint64) (map[UID]Flags, error) {
	out := map[UID]Flags{}
	set, ok := rangeUpTo(upTo)
	if !ok {
		return out, nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, ChangedSince: changedSince}
	err := s.fetchEach(ctx, set, opts, "UID FETCH FLAGS", func(a *answer) {
		if a.uid != 0 && a.hasFlags {
			out[a.uid] = a.flags
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FetchChanges implements Conn.
func (s *Session) FetchChanges(ctx context.Context, modSeq uint64) ([]Change, error) {
	var out []Change
	opts := &imap.FetchOptions{UID: true, Flags: true, ModSeq: true, ChangedSince: modSeq}
	err := s.fetchEach(ctx, imap.UIDSet{{Start: 1, Stop: 0}}, opts, "UID FETCH (CHANGEDSINCE)", func(a *answer) {
		out = append(out, Change{UID: a.uid, Flags: a.flags, HasFlags: a.hasFlags, ModSeq: a.modSeq})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Store implements Conn. A STORE's FETCH answers are its confirmation: a
// message none answers for was not changed (a concurrent change refused
// by UNCHANGEDSINCE, whose MODIFIED list go-imap drops).
func (s *Session) Store(ctx context.Context, changes map[UID]FlagChange, unchangedSince uint64) (map[UID]bool, error) {
	confirmed := map[UID]bool{}
	for _, op := range groupStores(changes) {
		set, ok := uidSetOf(op.uids)
		if !ok {
			continue
		}
		if err := s.begin(ctx); err != nil {
			return nil, err
		}
		answered, err := s.store(set, op, &unchangedSince)
		if err != nil {
			return nil, err
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
	return confirmed, nil
}

// store sends one UID STORE and returns the UIDs it answered for.
// *unchangedSince rises with the mod-sequences of the answers: our own
// change raises a message's, and a second STORE on it (a flag added,
// another removed) must not be refused for it.
func (s *Session) store(set imap.UIDSet, op storeOp, unchangedSince *uint64) (map[UID]bool, error) {
	sf := &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: flagsToIMAP(op.flags)}
	if op.add {
		sf.Op = imap.StoreFlagsAdd
	}
	var so *imap.StoreOptions
	if *unchangedSince > 0 {
		so = &imap.StoreOptions{UnchangedSince: *unchangedSince}
	}
	cmd := s.c.Store(set, sf, so)
	answered := map[UID]bool{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var a answer
		if err := s.read(msg, &a, nil); err != nil {
			s.Abort()
			s.drain(cmd)
			return nil, s.fail(fmt.Errorf("imap: %s: UID STORE %s: %w", s.mailbox, storeText(op), err))
		}
		*unchangedSince = max(*unchangedSince, a.modSeq)
		if a.uid != 0 {
			answered[a.uid] = true
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, s.fail(fmt.Errorf("imap: %s: UID STORE %s: %w", s.mailbox, storeText(op), err))
	}
	return answered, nil
}

// Expunge implements Conn: \Deleted on exactly uids, then UID EXPUNGE of
// exactly uids (UIDPLUS). Never a plain EXPUNGE, and never go-imap's
// MOVE fallback.
func (s *Session) Expunge(ctx context.Context, uids []UID) error {
	set, ok := uidSetOf(uids)
	if !ok {
		return nil
	}
	if !s.caps.Has(imap.CapUIDPlus) {
		return failure.New(failure.Other, fmt.Sprintf("imap: %s: the server lacks UIDPLUS: nothing is expunged, as a plain EXPUNGE could remove other mail", s.mailbox))
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	store := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
	if err := store.Close(); err != nil {
		return s.fail(fmt.Errorf("imap: %s: UID STORE +FLAGS (\\Deleted): %w", s.mailbox, err))
	}
	exp := s.c.UIDExpunge(set)
	if err := exp.Close(); err != nil {
		return s.fail(fmt.Errorf("imap: %s: UID EXPUNGE: %w", s.mailbox, err))
	}
	return nil
}

// checkMissing is called with the UIDs a FETCH did not return. Expunged
// meanwhile is fine; anything else is an error, so that a server's fault
// never passes for "no mail": bodies that came without their UID first,
// or messages the server still lists.
func (s *Session) checkMissing(missing []UID) error {
	if n := s.orphanBodies.Load(); n > 0 {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: the server sent %d message bod(ies) without the UID first, so %d message(s) could not be matched and were not fetched (UIDs %s); they will be tried again",
			s.mailbox, n, len(missing), uidSample(missing)))
	}
	still, err := s.stillThere(missing)
	if err != nil {
		return err
	}
	if len(still) > 0 {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: the server did not return %d message(s) that it still lists (UIDs %s); they will be tried again",
			s.mailbox, len(still), uidSample(still)))
	}
	return nil
}

// stillThere returns which of uids the server still has.
func (s *Session) stillThere(uids []UID) ([]UID, error) {
	set, ok := uidSetOf(uids)
	if !ok {
		return nil, nil
	}
	data, err := s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, s.fail(fmt.Errorf("imap: %s: UID SEARCH: %w", s.mailbox, err))
	}
	out, ok := uidList(data.All, len(uids))
	if !ok {
		return uids, nil
	}
	return out, nil
}

// uidSample lists up to ten UIDs, for messages.
func uidSample(uids []UID) string {
	var parts []string
	for i, u := range uids {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(uids)-10))
			break
		}
		parts = append(parts, strconv.FormatUint(uint64(u), 10))
	}
	return strings.Join(parts, " ")
}
