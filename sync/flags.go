package sync

import (
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"

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
