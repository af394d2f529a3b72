package imapconn

import (
	"slices"

	"github.com/emersion/go-imap/v2"
)

// Every command that takes a UID set goes through these helpers, which
// return ok=false for an empty set: go-imap's encoder fails on an empty
// set and tears the connection down (LIBRARIES.md), so an empty set must
// never reach it. Callers skip the command instead.

// uidSetOf returns the set of uids (any order, duplicates allowed) as
// compact ranges.
func uidSetOf(uids []UID) (imap.UIDSet, bool) {
	if len(uids) == 0 {
		return nil, false
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	var set imap.UIDSet
	start, prev := sorted[0], sorted[0]
	for _, u := range sorted[1:] {
		if u == prev || u == prev+1 {
			prev = u
			continue
		}
		set = append(set, uidRange(start, prev))
		start, prev = u, u
	}
	set = append(set, uidRange(start, prev))
	return set, true
}

func uidRange(start, stop UID) imap.UIDRange {
	return imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)}
}

// uidSetAcross returns a set that contains every uid of want and no other
// UID present on the server: ranges may span UIDs that do not exist there
// (expunged ones, which never come back: UIDs only grow), which keeps the
// set short when the server's UIDs have gaps. server must hold want.
func uidSetAcross(want []UID, server []UID) (imap.UIDSet, bool) {
	if len(want) == 0 {
		return nil, false
	}
	wanted := make(map[UID]bool, len(want))
	for _, u := range want {
		wanted[u] = true
	}
	all := slices.Clone(server)
	slices.Sort(all)
	all = slices.Compact(all)
	var set imap.UIDSet
	in := false
	var start, stop UID
	for _, u := range all {
		if wanted[u] {
			if !in {
				start, in = u, true
			}
			stop = u
			delete(wanted, u)
			continue
		}
		if in {
			set = append(set, uidRange(start, stop))
			in = false
		}
	}
	if in {
		set = append(set, uidRange(start, stop))
	}
	// UIDs of want the server list lacks (a caller's mistake) are still
	// asked for, one by one.
	for u := range wanted {
		set = append(set, uidRange(u, u))
	}
	return set, len(set) > 0
}

// rangeUpTo returns 1:last, or false when last is 0.
func rangeUpTo(last UID) (imap.UIDSet, bool) {
	if last == 0 {
		return nil, false
	}
	return imap.UIDSet{uidRange(1, last)}, true
}

// uidList returns the UIDs of a static set (a SEARCH result), or false
// when it holds "*" or more than limit UIDs: a server's answer must not be
// able to make a run allocate without bound.
func uidList(set imap.NumSet, limit int) ([]UID, bool) {
	s, ok := set.(imap.UIDSet)
	if !ok {
		return nil, set == nil
	}
	n := 0
	for _, r := range s {
		if r.Start == 0 || r.Stop == 0 {
			return nil, false
		}
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		n += int(hi-lo) + 1
		if n > limit {
			return nil, false
		}
	}
	out := make([]UID, 0, n)
	for _, r := range s {
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		for u := lo; ; u++ {
			out = append(out, UID(u))
			if u == hi {
				break
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// seqSetOf makes a sequence set of sorted numbers, in ranges; false when
// there is none (an empty set must never reach the wire).
func seqSetOf(seqs []uint32) (imap.SeqSet, bool) {
	var set imap.SeqSet
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		set = append(set, imap.SeqRange{Start: seqs[i], Stop: seqs[j]})
		i = j + 1
	}
	return set, len(set) > 0
}
