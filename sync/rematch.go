package sync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/failure"
	"github.com/mailfetch/mailfetch/maildir"
	"github.com/mailfetch/mailfetch/report"
)

// serverMsg is a message of the selected folder as the re-match sees it.
type serverMsg struct {
	uid     imap.UID
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
}

// rematch rebuilds the folder's state when its UIDs cannot be trusted (the
// UIDVALIDITY changed) or are not known (no state, but mail in the local
// folder: the state was lost, or the Maildir came from another tool). It
// never deletes and never downloads what is already here: each local
// message is paired with a server message by Message-ID and size (the
// size the server counts, with CRLF line ends), or, for messages without a
// Message-ID, by a hash of the content. Paired messages get their new UID;
// server messages without a pair are new and fetched; local messages
// without a pair stay as they are, untracked. The merge base of a pair is
// the flags both sides share, so the next flag merge takes the union and
// removes no flag. A Notice says what was done.
func (r *folderRun) rematch(ctx context.Context, reason string) error {
	srv, err := r.serverMessages(ctx)
	if err != nil {
		return err
	}
	stop := r.s.keepAlive(r.e.keepAliveEvery())
	cands, err := r.candidates()
	stop()
	if err != nil {
		return err
	}

	// By Message-ID and size.
	byKey := map[string][]*candidate{}
	for _, c := range cands {
		if c.msgID != "" {
			k := fmt.Sprintf("%d %s", c.size, c.msgID)
			byKey[k] = append(byKey[k], c)
		}
	}
	pairs := map[imap.UID]*candidate{}
	used := map[*candidate]bool{}
	byID := 0
	for _, m := range srv {
		if m.msgID == "" {
			continue
		}
		id := m.msgID
		if r.mda {
			id = mdaUniqueFor(m.msgID)
		}
		k := fmt.Sprintf("%d %s", m.size, id)
		if list := byKey[k]; len(list) > 0 {
			pairs[m.uid], byKey[k] = list[0], list[1:]
			used[list[0]] = true
			m.matched = true
			byID++
		}
	}

	// By content, for messages without a Message-ID of equal size.
	byHash := 0
	if !r.mda {
		sizes := map[int64]bool{}
		for _, c := range cands {
			if !used[c] && c.msgID == "" {
				sizes[c.size] = true
			}
		}
		var need []imap.UID
		for _, m := range srv {
			if !m.matched && m.msgID == "" && sizes[m.size] {
				need = append(need, m.uid)
			}
		}
		if len(need) > 0 {
			hashes, err := r.serverHashes(ctx, need)
			if err != nil {
				return err
			}
			local := map[[sha256.Size]byte][]*candidate{}
			stop := r.s.keepAlive(r.e.keepAliveEvery())
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
			for _, m := range srv {
				h, ok := hashes[m.uid]
				if !ok || m.matched {
					continue
				}
				if list := local[h]; len(list) > 0 {
					pairs[m.uid], local[h] = list[0], list[1:]
					used[list[0]] = true
					m.matched = true
					byHash++
				}
			}
		}
	}

	st := newFolderState(r.name)
	st.uidValidity = r.sel.UIDValidity
	flags := map[imap.UID]maildir.Flags{}
	for _, m := range srv {
		flags[m.uid] = m.flags
		c := pairs[m.uid]
		if c == nil {
			continue
		}
		base := c.flags
		if !r.mda {
			base = commonFlags(c.flags, m.flags)
		}
		st.msgs[m.uid] = &msgRecord{unique: c.unique, flags: base, size: m.size}
	}
	kept := 0
	for _, c := range cands {
		if !used[c] && c.path != "" {
			kept++
		}
	}
	fresh := len(srv) - len(pairs)
	text := fmt.Sprintf("%s: re-matched %d local message(s) to the server's by Message-ID and size", reason, byID)
	if byHash > 0 {
		text += fmt.Sprintf(", %d by content", byHash)
	}
	text += fmt.Sprintf("; %d message(s) on the server are new to this folder and fetched", fresh)
	if kept > 0 {
		text += fmt.Sprintf("; %d local message(s) not on the server are kept as they are", kept)
	}
	if r.dry {
		text = "would have " + text
	}
	r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: text})

	r.st = st
	r.rematched = true
	r.serverFlags = flags
	r.refetch = map[imap.UID]bool{}
	if !r.dry {
		if err := r.j.Rewrite(st.snapshot()); err != nil {
			return fmt.Errorf("imap: %s: state: %w", r.name, err)
		}
		r.dirty = false
	}
	return nil
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
	if r.sel.NumMessages == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	cmd := r.s.c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{section}})
	var out []*serverMsg
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		fm, err := r.s.collect(msg)
		if err != nil {
			r.s.abort()
			r.s.drain(cmd)
			return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (Message-ID): %w", r.name, err))
		}
		if fm.uid == 0 {
			continue
		}
		m := &serverMsg{uid: fm.uid, size: fm.size, flags: fromIMAP(fm.flags)}
		if fm.header != nil {
			m.msgID = headerMessageID(bytes.NewReader(fm.header))
		}
		out = append(out, m)
	}
	if err := cmd.Close(); err != nil {
		return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (Message-ID): %w", r.name, err))
	}
	slices.SortFunc(out, func(a, b *serverMsg) int { return cmp.Compare(a.uid, b.uid) })
	return out, nil
}

// candidates lists the local messages to pair: after a UIDVALIDITY change
// those the state knows (their server size is recorded); without state,
// every file of the local folder (its server size computed from the
// file).
func (r *folderRun) candidates() ([]*candidate, error) {
	var out []*candidate
	if len(r.st.msgs) > 0 || len(r.st.pending) > 0 {
		add := func(m *msgRecord) {
			if r.mda || isMDAUnique(m.unique) {
				if m.unique != mdaUnique {
					out = append(out, &candidate{unique: m.unique, size: m.size, msgID: m.unique})
				}
				return
			}
			if r.local == nil {
				return
			}
			e, ok := r.local.find(m.unique)
			if !ok {
				return // deleted locally: nothing to pair
			}
			out = append(out, &candidate{unique: m.unique, path: e.Path, size: m.size, flags: synced(e.Flags)})
		}
		for _, m := range r.st.msgs {
			if !m.localGone {
				add(m)
			}
		}
		for _, m := range r.st.pending {
			add(m)
		}
	} else if r.local != nil {
		for _, e := range r.local.all {
			size, err := crlfSize(e.Path)
			if err != nil {
				continue
			}
			out = append(out, &candidate{unique: e.Unique, path: e.Path, size: size, flags: synced(e.Flags)})
		}
	}
	for _, c := range out {
		if c.path == "" {
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

// serverHashes fetches the bodies of uids and returns the SHA-256 of each
// in its local form (LF line ends), streaming.
func (r *folderRun) serverHashes(ctx context.Context, uids []imap.UID) (map[imap.UID][sha256.Size]byte, error) {
	set, ok := uidSetOf(uids)
	if !ok {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := map[imap.UID]bool{}
	for _, u := range uids {
		want[u] = true
	}
	cmd := r.s.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	out := map[imap.UID][sha256.Size]byte{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if !want[uid] || it.Literal == nil {
					continue
				}
				h := sha256.New()
				g := &literalGuard{r: it.Literal, size: it.Literal.Size(), s: r.s}
				lf := newLFReader(g)
				_, err := io.Copy(h, lf)
				lf.release()
				if err != nil {
					r.s.abort()
					r.s.drain(cmd)
					return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: UID %d: %w", r.name, uid, err))
				}
				var sum [sha256.Size]byte
				copy(sum[:], h.Sum(nil))
				out[uid] = sum
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH BODY.PEEK[]: %w", r.name, err))
	}
	return out, nil
}

// fileHash is the SHA-256 of a local file.
func fileHash(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
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
