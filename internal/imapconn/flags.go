package imapconn

import (
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// systemFlags pairs each of Flags with its IMAP name and the letter a
// Maildir gives it, in the letters' order (D F R S T), which is the
// order flagsToIMAP writes them in.
var systemFlags = []struct {
	bit    Flags
	flag   imap.Flag
	letter byte
}{
	{Draft, imap.FlagDraft, 'D'},
	{Flagged, imap.FlagFlagged, 'F'},
	{Answered, imap.FlagAnswered, 'R'},
	{Seen, imap.FlagSeen, 'S'},
	{Deleted, imap.FlagDeleted, 'T'},
}

// String spells the flags as a Maildir does, in ASCII order: "FS".
func (f Flags) String() string {
	var b []byte
	for _, m := range systemFlags {
		if f&m.bit != 0 {
			b = append(b, m.letter)
		}
	}
	return string(b)
}

// flagsOf maps IMAP flags to Flags; keywords and \Recent are dropped.
// IMAP flags are case-insensitive (RFC 3501 2.3.2).
func flagsOf(flags []imap.Flag) Flags {
	var out Flags
	for _, f := range flags {
		for _, m := range systemFlags {
			if strings.EqualFold(string(f), string(m.flag)) {
				out |= m.bit
			}
		}
	}
	return out
}

// flagsToIMAP maps Flags to IMAP flags, in a stable order.
func flagsToIMAP(f Flags) []imap.Flag {
	var out []imap.Flag
	for _, m := range systemFlags {
		if f&m.bit != 0 {
			out = append(out, m.flag)
		}
	}
	return out
}

// storeOp is one UID STORE: the same flags added or removed on a set of
// messages. Changes are grouped so that a reader marking 500 messages read
// costs one command, not 500.
type storeOp struct {
	add   bool
	flags Flags
	uids  []UID
}

// groupStores groups per-message flag changes into STORE commands: one per
// distinct (add/remove, flags) pair, in a stable order (additions first,
// then by the flags' letters).
func groupStores(changes map[UID]FlagChange) []storeOp {
	type key struct {
		add   bool
		flags Flags
	}
	byKey := map[key][]UID{}
	for uid, c := range changes {
		if c.Add != 0 {
			byKey[key{true, c.Add}] = append(byKey[key{true, c.Add}], uid)
		}
		if c.Remove != 0 {
			byKey[key{false, c.Remove}] = append(byKey[key{false, c.Remove}], uid)
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
		return strings.Compare(a.flags.String(), b.flags.String())
	})
	return ops
}

// storeText is the STORE's data item, for messages: "+FLAGS (\Seen)".
func storeText(op storeOp) string {
	sign := "-"
	if op.add {
		sign = "+"
	}
	var names []string
	for _, f := range flagsToIMAP(op.flags) {
		names = append(names, string(f))
	}
	return sign + "FLAGS (" + strings.Join(names, " ") + ")"
}
