package fetch

import (
	"fmt"
	"slices"
	"time"
)

// serverMsg is one message of the maildrop as listed at the start of the
// session.
type serverMsg struct {
	Num  int    // message number in this session
	UIDL string // "" when the server has no usable UIDL for it
	Size int64  // LIST size (CRLF line ends, as the server counts)
}

// planned is a message to fetch.
type planned struct {
	serverMsg
	// dele: delete it on the server once its delivery is durable (delete
	// mode, or a kept message whose DeleteAfter has passed).
	dele bool
	// first is when it was first fetched, if it was before (All).
	first time.Time
}

// plan is what a run does to the maildrop, decided once from UIDL, LIST
// and the state before anything is fetched.
type plan struct {
	fetch      []planned
	fetchBytes int64
	// dele lists messages delivered by an earlier run and still on the
	// server: they are deleted without being fetched again.
	dele []serverMsg
	// skipped are larger than MaxSize.
	skipped []serverMsg
	// limited counts messages left for a later run by MaxMessages.
	limited int
}

// joinListing pairs LIST sizes with UIDLs by message number. uidls is nil
// when the server has no UIDL. A UIDL listed for two messages is useless as
// an identity (RFC 1939 forbids it): both messages are treated as having
// none, and the UIDL is returned in dups so that the caller can say so.
func joinListing(sizes map[int]int64, uidls map[int]string) (msgs []serverMsg, dups []string) {
	count := map[string]int{}
	for _, u := range uidls {
		count[u]++
	}
	seen := map[string]bool{}
	nums := make([]int, 0, len(sizes))
	for n := range sizes {
		nums = append(nums, n)
	}
	for n := range uidls {
		if _, ok := sizes[n]; !ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	for _, n := range nums {
		u := uidls[n]
		if count[u] > 1 {
			if !seen[u] {
				dups = append(dups, u)
				seen[u] = true
			}
			u = ""
		}
		msgs = append(msgs, serverMsg{Num: n, UIDL: u, Size: sizes[n]})
	}
	return msgs, dups
}

// makePlan decides what to fetch, delete and skip.
//
// Delete mode: every message not yet delivered is fetched and deleted once
// durable; a message the state says was delivered (its deletion did not
// commit last time: the connection died before QUIT) is deleted without
// being fetched again. Keep mode: only messages not yet delivered are
// fetched; with DeleteAfter, delivered messages first fetched at least that
// long ago are deleted. All ignores the state for fetching. here lists,
// by number, messages a re-match found in the Maildir: delivered, like the
// state's done ones (those without a UIDL are in no state).
func makePlan(msgs []serverMsg, st *uidlState, here map[int]bool, opt Options, now time.Time) plan {
	var p plan
	expired := func(first time.Time) bool {
		// A missing time is never expired: nothing is deleted on a guess.
		return opt.DeleteAfter > 0 && !first.IsZero() && now.Sub(first) >= opt.DeleteAfter
	}
	for _, m := range msgs {
		var first time.Time
		if m.UIDL != "" {
			first = st.firstFetched(m.UIDL)
		}
		if (m.UIDL != "" && st.isDone(m.UIDL) || here[m.Num]) && !opt.All {
			if !opt.Keep || expired(first) {
				p.dele = append(p.dele, m)
			}
			continue
		}
		if opt.MaxSize > 0 && m.Size > opt.MaxSize {
			p.skipped = append(p.skipped, m)
			continue
		}
		if opt.MaxMessages > 0 && len(p.fetch) >= opt.MaxMessages {
			p.limited++
			continue
		}
		p.fetch = append(p.fetch, planned{serverMsg: m, dele: !opt.Keep || expired(first), first: first})
		p.fetchBytes += m.Size
	}
	return p
}

// describeSkip is the Skipped event's text for a message over MaxSize.
func describeSkip(size, limit int64) string {
	return fmt.Sprintf("larger than max-size (%d > %d bytes); left on the server", size, limit)
}
