package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// UID is a message's UID in its folder.
type UID = imapconn.UID

// Delivery batches: staged messages are made durable and journaled
// together (one journal fsync and one directory fsync per batch, DESIGN
// invariant 1), bounded in count and bytes.
const (
	batchMessages = 256
	batchBytes    = 32 << 20
)

// prepass fetches the size, flags and date of the new messages (and, in a
// dry run, their envelope): FolderStart can announce the bytes to come,
// and a message's flags are known before its body even from a server that
// sends FLAGS after BODY[]. Messages it does not return were expunged
// meanwhile; they are left out. One the server still lists but did not
// return fails the folder once the others are fetched.
func (r *folderRun) prepass(ctx context.Context, fresh []UID) ([]imapconn.Meta, error) {
	metas, missing, err := r.conn.FetchMeta(ctx, fresh, r.dry)
	if err != nil {
		return nil, err
	}
	if missing != nil {
		r.soft(missing)
	}
	return metas, nil
}

// fetchNew streams the new messages into the target (see
// imapconn.Conn.FetchBodies), committing in batches: what was received
// whole is committed even when the fetch fails.
func (r *folderRun) fetchNew(ctx context.Context, metas []imapconn.Meta) error {
	b := &batch{r: r}
	ferr := r.conn.FetchBodies(ctx, metas, func(m imapconn.Meta, body io.Reader) (imapconn.Received, error) {
		return r.stage(ctx, b, m, body)
	})
	cerr := b.commit()
	if ferr == nil && cerr != nil {
		// Nothing pending on the wire; the connection is fine, but the
		// folder stops.
		r.conn.Abort()
	}
	return errors.Join(ferr, cerr)
}

// batch is the staged messages waiting for their commit.
type batch struct {
	r     *folderRun
	msgs  []*stagedMsg
	bytes int64
}

// add takes a message whose body came whole, and commits the batch
// when it is full.
func (b *batch) add(sm *stagedMsg) error {
	b.msgs = append(b.msgs, sm)
	b.bytes += sm.staged.Size()
	if len(b.msgs) >= batchMessages || b.bytes >= batchBytes {
		return b.commit()
	}
	return nil
}

// commit commits the batch (see folderRun.commit) and empties it.
func (b *batch) commit() error {
	msgs := b.msgs
	b.msgs, b.bytes = nil, 0
	return b.r.commit(msgs)
}

// stagedMsg is a message written to tmp/ (or handed to the MDA), waiting
// for the server's confirmation that it is the message it was taken for.
type stagedMsg struct {
	b      *batch
	uid    UID
	staged *maildir.Staged
	rec    *msgRecord
}

// Keep implements imapconn.Received: the message joins its batch; for an
// MDA, which delivered it already, the delivery is recorded.
func (sm *stagedMsg) Keep() error {
	if sm.b.r.mda {
		return sm.b.r.mdaDelivered(sm)
	}
	return sm.b.add(sm)
}

// Drop implements imapconn.Received: the staged file is removed. (An MDA
// delivered it already: its intent stays pending, so the message is
// delivered again.)
func (sm *stagedMsg) Drop() {
	if !sm.b.r.mda {
		sm.b.r.target.Discard(sm.staged)
	}
}

// stage writes one message body to the target. For an MDA, whose Stage
// delivers, the intent is journaled first, and the delivery is recorded
// by mdaDelivered right after, one message at a time: a crash between the
// two leaves the message in doubt, and it is then fetched again (a
// duplicate rather than a loss).
func (r *folderRun) stage(ctx context.Context, b *batch, m imapconn.Meta, body io.Reader) (*stagedMsg, error) {
	flags := fromIMAP(m.Flags)
	rec := &msgRecord{unique: mdaUnique, flags: flags, size: m.Size}
	var hasher *idHasher
	if r.mda {
		// No delivery without its intent on disk.
		err := r.j.Append(recMsg(recPending, m.UID, rec))
		if err == nil {
			err = r.j.Sync()
		}
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		r.dirty = true
		r.st.pending[m.UID] = rec
		hasher = &idHasher{}
		body = io.TeeReader(body, hasher)
	}
	staged, err := r.target.Stage(ctx, body, maildir.StageOptions{Flags: flags, Cur: flags.Has(maildir.FlagSeen), ModTime: m.Date, SizeHint: m.Size})
	if err != nil {
		return nil, err
	}
	if r.mda {
		rec.unique = mdaUniqueFor(hasher.messageID())
	} else {
		rec.unique = staged.Unique()
	}
	return &stagedMsg{b: b, uid: m.UID, staged: staged, rec: rec}, nil
}

// mdaDelivered records a delivery to the MDA that stage made.
func (r *folderRun) mdaDelivered(sm *stagedMsg) error {
	uid, rec, staged := sm.uid, sm.rec, sm.staged
	r.st.msgs[uid] = rec
	delete(r.st.pending, uid)
	delete(r.refetch, uid)
	err := r.j.Append(recMsg(recMessage, uid, rec))
	if err == nil {
		err = r.j.Sync()
	}
	if err != nil {
		return fmt.Errorf("imap: %s: state: %w", r.name, err)
	}
	r.delivered++
	r.bytes += staged.Size()
	r.e.add(func(res *Result) { res.Delivered++; res.Bytes += staged.Size() })
	r.emitDelivered(uid, staged, rec.flags)
	return nil
}

// commit makes a batch durable (DESIGN invariant 2): pending records and a
// journal fsync, then Publish (fsyncs, renames, one directory fsync), then
// done records and a journal fsync. A message whose publication failed
// stays pending: the next run looks for it and fetches it again if it is
// not there.
func (r *folderRun) commit(batch []*stagedMsg) error {
	if len(batch) == 0 {
		return nil
	}
	staged := make([]*maildir.Staged, len(batch))
	recs := make([][]byte, len(batch))
	for i, b := range batch {
		staged[i] = b.staged
		recs[i] = recMsg(recPending, b.uid, b.rec)
	}
	if err := r.j.Append(recs...); err == nil {
		err = r.j.Sync()
		if err != nil {
			r.target.Discard(staged...)
			return fmt.Errorf("imap: %s: state: %w", r.name, err)
		}
	} else {
		r.target.Discard(staged...)
		return fmt.Errorf("imap: %s: state: %w", r.name, err)
	}
	r.dirty = true
	for _, b := range batch {
		r.st.pending[b.uid] = b.rec
	}
	perr := r.target.Publish(staged...)
	var done [][]byte
	var ok []*stagedMsg
	for _, b := range batch {
		if b.staged.Path() == "" {
			continue
		}
		done = append(done, recD(b.uid))
		ok = append(ok, b)
		r.st.msgs[b.uid] = b.rec
		delete(r.st.pending, b.uid)
		delete(r.refetch, b.uid)
	}
	if perr != nil {
		r.target.Discard(staged...) // only the unpublished are removed
	}
	var jerr error
	if err := r.j.Append(done...); err != nil {
		jerr = err
	} else if err := r.j.Sync(); err != nil {
		jerr = err
	}
	for _, b := range ok {
		r.delivered++
		r.bytes += b.staged.Size()
		r.e.add(func(res *Result) { res.Delivered++; res.Bytes += b.staged.Size() })
		r.emitDelivered(b.uid, b.staged, b.rec.flags)
	}
	if perr != nil {
		return fmt.Errorf("imap: %s: %w", r.name, perr)
	}
	if jerr != nil {
		return fmt.Errorf("imap: %s: state: %w", r.name, jerr)
	}
	return nil
}

func (r *folderRun) emitDelivered(uid UID, st *maildir.Staged, flags maildir.Flags) {
	h := st.Header()
	r.e.emit(report.Event{Kind: report.Delivered, Folder: r.name, ServerID: uidStr(uid), Path: st.Path(),
		Size: st.Size(), Flags: string(flags), MessageID: h.MessageID, From: h.From, Subject: h.Subject, Date: h.Date})
}

// idHasher captures a message's header as it streams to an MDA and yields
// its Message-ID: the key that lets a changed UIDVALIDITY be repaired
// without delivering everything again.
type idHasher struct {
	buf  []byte
	done bool
}

func (h *idHasher) Write(p []byte) (int, error) {
	if !h.done {
		room := maxHeaderRead - len(h.buf)
		h.buf = append(h.buf, p[:min(len(p), room)]...)
		if len(h.buf) >= maxHeaderRead || strings.Contains(string(h.buf), "\n\n") {
			h.done = true
		}
	}
	return len(p), nil
}

func (h *idHasher) messageID() string {
	return headerMessageID(strings.NewReader(string(h.buf)))
}

// isMDAUnique reports whether a state record's unique name stands for a
// delivery to an MDA rather than a file.
func isMDAUnique(u string) bool { return strings.HasPrefix(u, mdaUnique) }

// mdaUniqueFor is the unique field of an MDA delivery: "-" and a digest
// of the Message-ID, "-" alone when it has none.
func mdaUniqueFor(messageID string) string {
	id := strings.Trim(messageID, "<>")
	if id == "" {
		return mdaUnique
	}
	sum := sha256.Sum256([]byte(id))
	return mdaUnique + hex.EncodeToString(sum[:12])
}
