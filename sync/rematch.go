package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// serverMsg is a message of the selected folder as the re-match sees it.
type serverMsg struct {
	uid     UID
	size    int64
	flags   maildir.Flags
	msgID   string
	matched bool
}

// candidate is a local message the re-match tries to pair with a server
// message.
type candidate struct {
	unique string
	path   string        // "" for an MDA delivery
	size   int64         // as the server counts it (CRLF)
	flags  maildir.Flags // synced flags of the local file
	msgID  string        // normalized; for an MDA delivery, its digest key
	// old is the state's record of the message delivered into this file,
	// and oldUID its UID then; nil when the state knows no such file.
	old    *msgRecord
	oldUID UID
	keyed  bool // msgID was read with the size
}

// rematch rebuilds the folder's state when its UIDs cannot be trusted
// (the UIDVALIDITY changed), are not known (no state, but mail in the
// local folder: the state was lost, or the Maildir came from another
// tool), or the local folder is not the one the state describes
// (r.unbound: a moved, replaced or new Maildir). It never deletes and
// never downloads what is already here: each local message is paired with
// a server message, under an unchanged UIDVALIDITY first by the file the
// state delivered it into, then by Message-ID and size (the size the
// server counts, with CRLF line ends), then, for messages without a
// Message-ID, by a hash of the content. Paired messages get their UID;
// server messages without a pair are fetched; local messages without a
// pair stay as they are, untracked.
//
// What the state knew carries over (issue: a restored server brought back
// what the user had deleted). Local deletions stay deletions: under the
// same UIDVALIDITY by UID, across a change by their match key and size
// when exactly one new message has them. A pair's merge base is the
// state's when the file is the one the state knows (under a new
// UIDVALIDITY with the flags the user removed since kept in it, so that
// the removal reaches the server and nothing else is removed); otherwise
// it is the flags both sides share, so that the first merge takes their
// union and removes no flag. A Notice says what was done.
func (r *folderRun) rematch(ctx context.Context, reason string) (map[UID]maildir.Flags, error) {
	srv, err := r.serverMessages(ctx)
	if err != nil {
		return nil, err
	}
	stop := r.conn.KeepAlive()
	cands, err := r.candidates()
	stop()
	if err != nil {
		return nil, err
	}
	sameValidity := r.st.uidValidity != 0 && r.st.uidValidity == r.sel.UIDValidity
	pr := &pairing{pairs: map[UID]*candidate{}, used: map[*candidate]bool{}}
	if sameValidity {
		pr.byFile = pr.pairByFile(srv, cands)
	}
	pr.byID = pr.pairByMessageID(srv, cands, r.mda)
	if !r.mda {
		// By content, for messages without a Message-ID of equal size.
		if pr.byHash, err = r.pairByContent(ctx, srv, cands, pr.used, pr.pair); err != nil {
			return nil, err
		}
	}
	gone, err := r.carryDeletions(ctx, srv, sameValidity)
	if err != nil {
		return nil, err
	}
	st, flags := r.rebuiltState(srv, pr, gone, sameValidity)
	r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: r.rematchText(reason, srv, cands, pr, len(gone))})

	r.st = st
	r.refetch = map[UID]bool{}
	if !r.dry {
		if err := r.j.Rewrite(st.snapshot()); err != nil {
			return nil, fmt.Errorf("imap: %s: state: %w", r.name, err)
		}
		r.dirty = false
	}
	return flags, nil
}

// pairing is the pairs a re-match made: server messages by UID, each
// with its local candidate.
type pairing struct {
	pairs                map[UID]*candidate
	used                 map[*candidate]bool
	byFile, byID, byHash int
}

func (pr *pairing) pair(m *serverMsg, c *candidate) {
	pr.pairs[m.uid] = c
	pr.used[c] = true
	m.matched = true
}

// pairByFile pairs, under an unchanged UIDVALIDITY, each message with the
// file the state delivered it into.
func (pr *pairing) pairByFile(srv []*serverMsg, cands []*candidate) int {
	byOld := map[UID]*candidate{}
	for _, c := range cands {
		if c.old != nil {
			byOld[c.oldUID] = c
		}
	}
	n := 0
	for _, m := range srv {
		if c := byOld[m.uid]; c != nil {
			pr.pair(m, c)
			n++
		}
	}
	return n
}

// pairByMessageID pairs by Message-ID and size (for an MDA, by the digest
// of the Message-ID its state keeps).
func (pr *pairing) pairByMessageID(srv []*serverMsg, cands []*candidate, mda bool) int {
	byKey := map[string][]*candidate{}
	for _, c := range cands {
		if c.msgID != "" && !pr.used[c] {
			k := fmt.Sprintf("%d %s", c.size, c.msgID)
			byKey[k] = append(byKey[k], c)
		}
	}
	n := 0
	for _, m := range srv {
		if m.msgID == "" || m.matched {
			continue
		}
		id := m.msgID
		if mda {
			id = mdaUniqueFor(m.msgID)
		}
		k := fmt.Sprintf("%d %s", m.size, id)
		if list := byKey[k]; len(list) > 0 {
			byKey[k] = list[1:]
			pr.pair(m, list[0])
			n++
		}
	}
	return n
}

// rebuiltState is the state a re-match rebuilds: the pairs with their
// merge bases, and the deletions carried over; with the flags of every
// server message.
func (r *folderRun) rebuiltState(srv []*serverMsg, pr *pairing, gone map[UID]*msgRecord, sameValidity bool) (*folderState, map[UID]maildir.Flags) {
	st := newFolderState(r.name)
	st.uidValidity = r.sel.UIDValidity
	st.identity = r.identity
	flags := map[UID]maildir.Flags{}
	for _, m := range srv {
		flags[m.uid] = m.flags
		if g := gone[m.uid]; g != nil {
			st.msgs[m.uid] = g
			continue
		}
		c := pr.pairs[m.uid]
		if c == nil {
			continue
		}
		base := c.flags
		switch {
		case r.mda:
		case c.old != nil && sameValidity && c.oldUID == m.uid:
			base = c.old.flags
		case c.old != nil:
			// The user's removals since the last sync stay removals.
			base = removedFlags(c.old.flags, c.flags)
		default:
			base = commonFlags(c.flags, m.flags)
		}
		st.msgs[m.uid] = &msgRecord{unique: c.unique, flags: base, size: m.size}
	}
	return st, flags
}

// rematchText is the Notice that says what a re-match did.
func (r *folderRun) rematchText(reason string, srv []*serverMsg, cands []*candidate, pr *pairing, gone int) string {
	kept := 0
	for _, c := range cands {
		if !pr.used[c] && c.path != "" {
			kept++
		}
	}
	fresh := len(srv) - len(pr.pairs) - gone
	text := reason + ": re-matched"
	if pr.byFile > 0 {
		text += fmt.Sprintf(" %d local message(s) by file name,", pr.byFile)
	}
	text += fmt.Sprintf(" %d by Message-ID and size", pr.byID)
	if pr.byHash > 0 {
		text += fmt.Sprintf(", %d by content", pr.byHash)
	}
	text += fmt.Sprintf("; %d message(s) on the server are new to this folder and fetched", fresh)
	if gone > 0 {
		text += fmt.Sprintf("; %d message(s) deleted locally stay deleted", gone)
	}
	if kept > 0 {
		text += fmt.Sprintf("; %d local message(s) not on the server are kept as they are", kept)
	}
	if r.dry {
		text = "would have " + text
	}
	return text
}

// pairByContent pairs server and local messages without a Message-ID by
// a hash of their content, among those of equal size. It returns how many
// it paired.
func (r *folderRun) pairByContent(ctx context.Context, srv []*serverMsg, cands []*candidate, used map[*candidate]bool, pair func(*serverMsg, *candidate)) (int, error) {
	sizes := map[int64]bool{}
	for _, c := range cands {
		if !used[c] && c.msgID == "" {
			sizes[c.size] = true
		}
	}
	var need []UID
	for _, m := range srv {
		if !m.matched && m.msgID == "" && sizes[m.size] {
			need = append(need, m.uid)
		}
	}
	if len(need) == 0 {
		return 0, nil
	}
	hashes, err := r.conn.FetchDigests(ctx, need)
	if err != nil {
		return 0, err
	}
	local := map[imapconn.Digest][]*candidate{}
	stop := r.conn.KeepAlive()
	defer stop()
	for _, c := range cands {
		if used[c] || c.msgID != "" || !sizes[c.size] {
			continue
		}
		h, err := fileHash(c.path)
		if err != nil {
			continue // gone meanwhile: not paired
		}
		local[h] = append(local[h], c)
	}
	n := 0
	for _, m := range srv {
		h, ok := hashes[m.uid]
		if !ok || m.matched {
			continue
		}
		if list := local[h]; len(list) > 0 {
			local[h] = list[1:]
			pair(m, list[0])
			n++
		}
	}
	return n, nil
}

// carryDeletions returns the records of the messages the user deleted
// locally, by their UID in the rebuilt state. Under the same UIDVALIDITY
// a deletion keeps its UID when the message is still on the server and
// was not paired with a local file. Across a change it is found by its
// match key and size, and only when exactly one unpaired server message
// has them: an ambiguous key brings the message back rather than risk
// hiding another one.
func (r *folderRun) carryDeletions(ctx context.Context, srv []*serverMsg, sameValidity bool) (map[UID]*msgRecord, error) {
	var deleted []*msgRecord
	var deletedUIDs []UID
	for u, m := range r.st.msgs {
		if m.localGone && !isMDAUnique(m.unique) {
			deleted = append(deleted, m)
			deletedUIDs = append(deletedUIDs, u)
		}
	}
	out := map[UID]*msgRecord{}
	if len(deleted) == 0 {
		return out, nil
	}
	carry := func(m *serverMsg, old *msgRecord) {
		out[m.uid] = &msgRecord{unique: old.unique, flags: old.flags, size: m.size, localGone: true, goneKey: old.goneKey}
		m.matched = true
	}
	if sameValidity {
		byUID := map[UID]*serverMsg{}
		for _, m := range srv {
			byUID[m.uid] = m
		}
		for i, u := range deletedUIDs {
			if m := byUID[u]; m != nil && !m.matched {
				carry(m, deleted[i])
			}
		}
		return out, nil
	}
	keyOf, err := r.unpairedKeys(ctx, srv, deleted)
	if err != nil {
		return nil, err
	}
	type sizedKey struct {
		size int64
		key  string
	}
	count := map[sizedKey]int{}
	bySK := map[sizedKey]*serverMsg{}
	for _, m := range srv {
		if k, ok := keyOf[m.uid]; ok {
			sk := sizedKey{m.size, k}
			count[sk]++
			bySK[sk] = m
		}
	}
	wanted := map[sizedKey]int{}
	for _, d := range deleted {
		wanted[sizedKey{d.size, d.goneKey}]++
	}
	for _, d := range deleted {
		sk := sizedKey{d.size, d.goneKey}
		if d.goneKey == "" || count[sk] != 1 || wanted[sk] != 1 {
			continue
		}
		carry(bySK[sk], d)
	}
	return out, nil
}

// unpairedKeys returns, across a UIDVALIDITY change, the match keys of
// the unpaired server messages of the sizes that deleted messages had:
// from their Message-ID, or their header where a deletion's key was made
// of one.
func (r *folderRun) unpairedKeys(ctx context.Context, srv []*serverMsg, deleted []*msgRecord) (map[UID]string, error) {
	wantSize := map[int64]bool{}
	hKeys := false
	for _, d := range deleted {
		if d.goneKey != "" {
			wantSize[d.size] = true
			hKeys = hKeys || d.goneKey[0] == 'h'
		}
	}
	keyOf := map[UID]string{}
	var needHeader []UID
	for _, m := range srv {
		switch {
		case m.matched || !wantSize[m.size]:
		case m.msgID != "":
			keyOf[m.uid] = messageIDKey(m.msgID)
		case hKeys:
			needHeader = append(needHeader, m.uid)
		}
	}
	if len(needHeader) > 0 {
		keys, err := r.fetchKeys(ctx, needHeader)
		if err != nil {
			return nil, err
		}
		for u, k := range keys {
			keyOf[u] = k
		}
	}
	return keyOf, nil
}

// removedFlags is a merge base for a file whose old base was old and
// whose flags are now local: the flags the user removed locally since the
// last sync. Merged against the server, a flag the user removed is
// removed on both sides, and every other flag either side has is kept.
func removedFlags(old, local maildir.Flags) maildir.Flags {
	var out []byte
	for i := 0; i < len(syncedFlags); i++ {
		if c := syncedFlags[i]; old.Has(c) && !local.Has(c) {
			out = append(out, c)
		}
	}
	return maildir.Flags(out)
}

// commonFlags are the synced flags both a and b have.
func commonFlags(a, b maildir.Flags) maildir.Flags {
	var out []byte
	for i := 0; i < len(syncedFlags); i++ {
		if c := syncedFlags[i]; a.Has(c) && b.Has(c) {
			out = append(out, c)
		}
	}
	return maildir.Flags(out)
}

// serverMessages fetches UID, size, flags and Message-ID of every message
// of the selected folder.
func (r *folderRun) serverMessages(ctx context.Context) ([]*serverMsg, error) {
	headers, err := r.conn.FetchAllHeaders(ctx, "Message-ID")
	if err != nil {
		return nil, err
	}
	out := make([]*serverMsg, 0, len(headers))
	for _, h := range headers {
		m := &serverMsg{uid: h.UID, size: h.Size, flags: fromIMAP(h.Flags)}
		if h.Header != nil {
			m.msgID = headerMessageID(bytes.NewReader(h.Header))
		}
		out = append(out, m)
	}
	return out, nil
}

// candidates lists the local messages to pair. Under a changed
// UIDVALIDITY in a folder the state describes, those the state knows
// (their server size is recorded). Without a state, or when the local
// folder is not the one the state describes, every file of the local
// folder (its server size computed from the file), each with the state's
// record when the state delivered it.
func (r *folderRun) candidates() ([]*candidate, error) {
	var out []*candidate
	switch {
	case r.unbound == "" && (len(r.st.msgs) > 0 || len(r.st.pending) > 0):
		out = r.stateCandidates()
	case r.local != nil:
		out = r.folderCandidates()
	}
	for _, c := range out {
		if c.path == "" || c.keyed {
			continue
		}
		id, err := fileMessageID(c.path)
		if err != nil {
			continue
		}
		c.msgID = id
	}
	slices.SortFunc(out, func(a, b *candidate) int { return strings.Compare(a.path+a.unique, b.path+b.unique) })
	return out, nil
}

// stateCandidates are the messages the state knows, in the folder it
// describes: their server sizes are recorded.
func (r *folderRun) stateCandidates() []*candidate {
	var out []*candidate
	add := func(u UID, m *msgRecord) {
		if r.mda || isMDAUnique(m.unique) {
			if m.unique != mdaUnique {
				out = append(out, &candidate{unique: m.unique, size: m.size, msgID: m.unique})
			}
			return
		}
		if e, ok := r.local.find(m.unique); ok { // else deleted locally: nothing to pair
			out = append(out, &candidate{unique: m.unique, path: e.Path, size: m.size, flags: synced(e.Flags), old: m, oldUID: u})
		}
	}
	for u, m := range r.st.msgs {
		if !m.localGone {
			add(u, m)
		}
	}
	for u, m := range r.st.pending {
		add(u, m)
	}
	return out
}

// folderCandidates are every file of the local folder, each with the
// state's record when the state delivered it (its server size then
// recorded), else with its size and Message-ID read from the file.
func (r *folderRun) folderCandidates() []*candidate {
	byCore := map[string]UID{}
	for u, m := range r.st.msgs {
		if !m.localGone && !isMDAUnique(m.unique) {
			byCore[uniqueCore(m.unique)] = u
		}
	}
	for u, m := range r.st.pending {
		if !isMDAUnique(m.unique) {
			byCore[uniqueCore(m.unique)] = u
		}
	}
	var out []*candidate
	for _, e := range r.local.all {
		c := &candidate{unique: e.Unique, path: e.Path, flags: synced(e.Flags)}
		if u, ok := byCore[uniqueCore(e.Unique)]; ok {
			if c.old = r.st.msgs[u]; c.old == nil {
				c.old = r.st.pending[u]
			}
			c.oldUID = u
			c.size = c.old.size
		} else {
			k, err := fileMatchKey(e.Path)
			if err != nil {
				continue
			}
			c.size, c.msgID = k.Size, k.MessageID
			c.keyed = true
		}
		out = append(out, c)
	}
	return out
}

// fileHash is the SHA-256 of a local file.
func fileHash(path string) (imapconn.Digest, error) {
	var sum imapconn.Digest
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
