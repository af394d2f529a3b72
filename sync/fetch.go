package sync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// newMsg is a message to fetch, as the pre-pass describes it.
type newMsg struct {
	uid      imap.UID
	seq      uint32 // its sequence number when the pre-pass saw it
	size     int64  // RFC822.SIZE
	flags    maildir.Flags
	date     time.Time // INTERNALDATE
	envelope *imap.Envelope
}

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
// meanwhile; they are left out.
func (r *folderRun) prepass(ctx context.Context, fresh, server []imap.UID) ([]*newMsg, error) {
	set, ok := uidSetAcross(fresh, server)
	if !ok {
		return nil, nil // never an empty set on the wire
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.s.orphanBodies.Store(0)
	want := make(map[imap.UID]bool, len(fresh))
	for _, u := range fresh {
		want[u] = true
	}
	r.s.seqEpoch = r.s.expunges.Load()
	cmd := r.s.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: r.dry})
	var out []*newMsg
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		seq := msg.SeqNum
		m, err := r.s.collect(msg)
		if err != nil {
			r.s.abort()
			r.s.drain(cmd)
			return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (RFC822.SIZE): %w", r.name, err))
		}
		if !want[m.uid] {
			continue // n:* answers the last message even when it is old
		}
		delete(want, m.uid)
		out = append(out, &newMsg{uid: m.uid, seq: seq, size: m.size, flags: fromIMAP(m.flags), date: m.date, envelope: m.envelope})
	}
	if err := cmd.Close(); err != nil {
		return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (RFC822.SIZE): %w", r.name, err))
	}
	if len(want) > 0 {
		var missing []imap.UID
		for u := range want {
			missing = append(missing, u)
		}
		slices.Sort(missing)
		if err := r.checkMissing(missing); err != nil {
			// The others are fetched all the same; the folder then
			// reports this.
			r.soft(err)
		}
	}
	slices.SortFunc(out, func(a, b *newMsg) int { return cmp.Compare(a.uid, b.uid) })
	return out, nil
}

// stagedMsg is a message written to tmp/, waiting for its batch's commit.
type stagedMsg struct {
	uid    imap.UID
	staged *maildir.Staged
	rec    *msgRecord
}

// fetchNew streams the new messages with one UID FETCH into the target,
// committing in batches. Every guard of LIBRARIES.md is here: the body's
// length is checked against the literal's size (a cut connection gives a
// short read without error), every requested UID must come back, the
// command is always drained or the connection aborted.
//
// A server may send BODY[] before UID in a FETCH response (RFC 3501 does
// not order the items). go-imap routes a UID FETCH's responses by the UID
// seen before the first literal, so such bodies land in the unilateral
// handler (orphanBodies) and their messages come back missing. Then the
// missing ones are fetched again at once by sequence number (fetchBySeq),
// which go-imap routes by the number every response starts with, and the
// run remembers the quirk so that its other folders go by sequence
// number straight away. The UID FETCH stays the way for every other
// server: it does not depend on sequence numbers, which another client's
// expunge shifts.
func (r *folderRun) fetchNew(ctx context.Context, metas []*newMsg, server []imap.UID) error {
	if len(metas) == 0 {
		return nil
	}
	if r.e.bodyFirst.Load() {
		return r.fetchBySeq(ctx, metas)
	}
	uids := make([]imap.UID, len(metas))
	byUID := make(map[imap.UID]*newMsg, len(metas))
	for i, m := range metas {
		uids[i] = m.uid
		byUID[m.uid] = m
	}
	set, ok := uidSetAcross(uids, server)
	if !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := r.s
	s.orphanBodies.Store(0)
	cmd := s.c.Fetch(set, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}, // PEEK: never sets \Seen
	})
	got := make(map[imap.UID]bool, len(metas))
	err := r.stream(cmd, "UID FETCH", func(msg *imapclient.FetchMessageData) (*stagedMsg, error) {
		return r.receive(ctx, msg, byUID, got)
	})
	if err != nil {
		return err
	}
	var missing []imap.UID
	var again []*newMsg
	for _, m := range metas {
		if !got[m.uid] {
			missing = append(missing, m.uid)
			again = append(again, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if s.orphanBodies.Load() > 0 {
		r.e.bodyFirst.Store(true)
		r.e.emit(report.Event{Kind: report.Notice, Folder: r.name, Text: fmt.Sprintf(
			"the server sent %d message bod(ies) before their UID; fetching %d message(s) again by sequence number, and so for the rest of this run",
			s.orphanBodies.Load(), len(again))})
		return r.fetchBySeq(ctx, again)
	}
	return r.checkMissing(missing)
}

// stream reads a FETCH of bodies to its end, staging what receive returns
// and committing in batches. On an error it stops the transfer at once
// (draining would download the rest for nothing, and an unread body
// blocks go-imap) and still commits what was received whole.
func (r *folderRun) stream(cmd *imapclient.FetchCommand, what string, receive func(*imapclient.FetchMessageData) (*stagedMsg, error)) error {
	s := r.s
	var batch []*stagedMsg
	var batchSize int64
	var ferr error
	for ferr == nil {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var sm *stagedMsg
		sm, ferr = receive(msg)
		if sm != nil {
			batch = append(batch, sm)
			batchSize += sm.staged.Size()
		}
		if ferr == nil && (len(batch) >= batchMessages || batchSize >= batchBytes) {
			ferr = r.commit(batch)
			batch, batchSize = nil, 0
		}
	}
	if ferr != nil {
		s.abort()
		cerr := r.commit(batch)
		s.drain(cmd)
		return errors.Join(ferr, cerr)
	}
	cerr := cmd.Close()
	if err := r.commit(batch); err != nil {
		if cerr == nil {
			s.abort() // nothing pending on the wire; the session is fine, but the folder stops
		}
		return err
	}
	if cerr != nil {
		return s.fail(fmt.Errorf("imap: %s: %s: %w", r.name, what, cerr))
	}
	return nil
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

// seqStats counts the bodies a FETCH by sequence number could not take.
type seqStats struct {
	noUID    int // a body whose response carried no UID
	mismatch int // a body whose response carried another UID than expected
}

// fetchBySeq fetches messages with FETCH by sequence number, for a server
// that sends BODY[] before UID. go-imap hands each response to the
// command by its sequence number, whatever the order of its items; the
// body is staged as the message that number stands for, and published
// only when the response's UID, wherever it comes in the response, is
// that message's: a body without its UID, or with another, is discarded
// and the message is tried again next run (for an MDA, which delivers
// while the body streams, it stays in doubt and is delivered again: a
// duplicate is possible there, a loss is not).
//
// Sequence numbers come from the pre-pass's responses; they stay valid as
// long as the server sent no EXPUNGE since (RFC 3501 7.4.1 forbids one
// during a FETCH), else they are read again (seqNumbers).
func (r *folderRun) fetchBySeq(ctx context.Context, metas []*newMsg) error {
	bySeq, err := r.seqNumbers(ctx, metas)
	if err != nil {
		return err
	}
	seqs := make([]uint32, 0, len(bySeq))
	for n := range bySeq {
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	set, ok := seqSetOf(seqs)
	var st seqStats
	got := make(map[imap.UID]bool, len(metas))
	if ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.s.orphanBodies.Store(0)
		cmd := r.s.c.Fetch(set, &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		})
		err := r.stream(cmd, "FETCH", func(msg *imapclient.FetchMessageData) (*stagedMsg, error) {
			return r.receiveSeq(ctx, msg, bySeq, got, &st)
		})
		if err != nil {
			return err
		}
	}
	var missing []imap.UID
	for _, m := range metas {
		if !got[m.uid] {
			missing = append(missing, m.uid)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if st.noUID > 0 || st.mismatch > 0 || r.s.orphanBodies.Load() > 0 {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: %d message bod(ies) came without their UID and %d with another UID than their sequence number stands for, so %d message(s) were not fetched (UIDs %s); they will be tried again",
			r.name, st.noUID+int(r.s.orphanBodies.Load()), st.mismatch, len(missing), uidSample(missing)))
	}
	return r.checkMissing(missing)
}

// seqNumbers maps the sequence numbers of metas to them: those the
// pre-pass saw, while no EXPUNGE came since; else read again with a UID
// FETCH (UID), which carries no literal and so is routed whatever the
// order of its items. A message missing from the map was expunged.
func (r *folderRun) seqNumbers(ctx context.Context, metas []*newMsg) (map[uint32]*newMsg, error) {
	out := make(map[uint32]*newMsg, len(metas))
	if r.s.expunges.Load() == r.s.seqEpoch {
		for _, m := range metas {
			if m.seq == 0 {
				out = nil
				break
			}
			out[m.seq] = m
		}
		if out != nil {
			return out, nil
		}
	}
	out = make(map[uint32]*newMsg, len(metas))
	byUID := make(map[imap.UID]*newMsg, len(metas))
	uids := make([]imap.UID, len(metas))
	for i, m := range metas {
		byUID[m.uid] = m
		uids[i] = m.uid
	}
	set, ok := uidSetOf(uids)
	if !ok {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	epoch := r.s.expunges.Load()
	cmd := r.s.c.Fetch(set, &imap.FetchOptions{UID: true})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		m, err := r.s.collect(msg)
		if err != nil {
			r.s.abort()
			r.s.drain(cmd)
			return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (UID): %w", r.name, err))
		}
		if meta := byUID[m.uid]; meta != nil && msg.SeqNum != 0 {
			meta.seq = msg.SeqNum
			out[msg.SeqNum] = meta
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, r.s.fail(fmt.Errorf("imap: %s: UID FETCH (UID): %w", r.name, err))
	}
	if r.s.expunges.Load() != epoch {
		return nil, failure.New(failure.Temporary, fmt.Sprintf("imap: %s: messages were expunged while their sequence numbers were read; the new ones will be fetched next run", r.name))
	}
	r.s.seqEpoch = epoch
	return out, nil
}

// receiveSeq reads one response of a FETCH by sequence number: the body
// is staged as the message its number stands for, with the flags and
// date known so far (FLAGS may come after the body: the pre-pass's are
// then used), and returned only when the response's UID matches.
func (r *folderRun) receiveSeq(ctx context.Context, msg *imapclient.FetchMessageData, bySeq map[uint32]*newMsg, got map[imap.UID]bool, st *seqStats) (*stagedMsg, error) {
	meta := bySeq[msg.SeqNum]
	var uid imap.UID
	var flags *maildir.Flags
	var date time.Time
	var out *stagedMsg
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataFlags:
			f := fromIMAP(it.Flags)
			flags = &f
		case imapclient.FetchItemDataInternalDate:
			date = it.Time
		case imapclient.FetchItemDataBodySection:
			if meta == nil || got[meta.uid] || out != nil || (uid != 0 && uid != meta.uid) {
				continue // Next discards the literal
			}
			if it.Literal == nil {
				return nil, failure.New(failure.Other, fmt.Sprintf("imap: %s: UID %d: the server sent no body (NIL)", r.name, meta.uid))
			}
			f := meta.flags
			if flags != nil {
				f = *flags
			}
			d := date
			if d.IsZero() {
				d = meta.date
			}
			sm, err := r.stage(ctx, meta.uid, it.Literal, f, d, meta.size)
			if err != nil {
				return nil, err
			}
			out = sm
		}
	}
	switch {
	case out == nil:
		if meta != nil && uid != 0 && uid != meta.uid {
			st.mismatch++
		}
		return nil, nil
	case uid != meta.uid:
		// Not the message the number stood for, or no UID at all: never
		// published. (For an MDA the delivery happened; its intent stays
		// pending, so the message is delivered again.)
		if uid == 0 {
			st.noUID++
		} else {
			st.mismatch++
		}
		if !r.mda {
			r.target.Discard(out.staged)
		}
		return nil, nil
	}
	got[meta.uid] = true
	if r.mda {
		return nil, r.mdaDelivered(out)
	}
	return out, nil
}

// checkMissing is called with the UIDs a FETCH did not return. Expunged
// meanwhile is fine; anything else is an error, so that a server's fault
// never passes for "no mail": bodies that came without their UID first,
// or messages the server still lists. They are tried again next run (the
// last UID handled never passes them).
func (r *folderRun) checkMissing(missing []imap.UID) error {
	if n := r.s.orphanBodies.Load(); n > 0 {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: the server sent %d message bod(ies) without the UID first, so %d message(s) could not be matched and were not fetched (UIDs %s); they will be tried again",
			r.name, n, len(missing), uidSample(missing)))
	}
	still, err := r.stillThere(missing)
	if err != nil {
		return err
	}
	if len(still) > 0 {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: the server did not return %d message(s) that it still lists (UIDs %s); they will be tried again",
			r.name, len(still), uidSample(still)))
	}
	return nil
}

// stillThere returns which of uids the server still has.
func (r *folderRun) stillThere(uids []imap.UID) ([]imap.UID, error) {
	set, ok := uidSetOf(uids)
	if !ok {
		return nil, nil
	}
	data, err := r.s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, r.s.fail(fmt.Errorf("imap: %s: UID SEARCH: %w", r.name, err))
	}
	out, ok := uidList(data.All, len(uids))
	if !ok {
		return uids, nil
	}
	return out, nil
}

func uidSample(uids []imap.UID) string {
	var parts []string
	for i, u := range uids {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(uids)-10))
			break
		}
		parts = append(parts, uidStr(u))
	}
	return strings.Join(parts, " ")
}

// receive reads one FETCH response and stages its body. It returns nil
// for a response that is not one of the wanted messages (n:* answers the
// last message even when nothing is new; a duplicate).
func (r *folderRun) receive(ctx context.Context, msg *imapclient.FetchMessageData, byUID map[imap.UID]*newMsg, got map[imap.UID]bool) (*stagedMsg, error) {
	var uid imap.UID
	var flags *maildir.Flags
	var date time.Time
	var out *stagedMsg
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataFlags:
			f := fromIMAP(it.Flags)
			flags = &f
		case imapclient.FetchItemDataInternalDate:
			date = it.Time
		case imapclient.FetchItemDataBodySection:
			meta := byUID[uid]
			if meta == nil || got[uid] || out != nil {
				continue // Next discards the literal
			}
			if it.Literal == nil {
				return nil, failure.New(failure.Other, fmt.Sprintf("imap: %s: UID %d: the server sent no body (NIL)", r.name, uid))
			}
			f := meta.flags
			if flags != nil {
				f = *flags // fresher than the pre-pass
			}
			if date.IsZero() {
				date = meta.date
			}
			sm, err := r.stage(ctx, uid, it.Literal, f, date, meta.size)
			if err != nil {
				return nil, err
			}
			got[uid] = true
			if r.mda {
				if err := r.mdaDelivered(sm); err != nil {
					return nil, err
				}
				continue
			}
			out = sm
		}
	}
	return out, nil
}

// stage writes one message body to the target. For an MDA, whose Stage
// delivers, the intent is journaled first, and the delivery is recorded
// by mdaDelivered right after, one message at a time: a crash between the
// two leaves the message in doubt, and it is then fetched again (a
// duplicate rather than a loss).
func (r *folderRun) stage(ctx context.Context, uid imap.UID, lit imap.LiteralReader, flags maildir.Flags, date time.Time, size int64) (*stagedMsg, error) {
	guard := &literalGuard{r: lit, size: lit.Size(), s: r.s}
	lf := newLFReader(guard)
	defer lf.release() // Stage has read what it reads when it returns
	var body io.Reader = lf
	var hasher *idHasher
	rec := &msgRecord{unique: mdaUnique, flags: flags, size: size}
	if r.mda {
		// No delivery without its intent on disk.
		err := r.j.Append(recMsg(recPending, uid, rec))
		if err == nil {
			err = r.j.Sync()
		}
		if err != nil {
			return nil, fmt.Errorf("imap: %s: state: %w", r.name, err)
		}
		r.dirty = true
		r.st.pending[uid] = rec
		hasher = &idHasher{}
		body = io.TeeReader(body, hasher)
	}
	staged, err := r.target.Stage(ctx, body, maildir.StageOptions{Flags: flags, Cur: flags.Has(maildir.FlagSeen), ModTime: date, SizeHint: size})
	if err != nil {
		if guard.n < guard.size && failure.KindOf(err) != failure.LocalIO {
			// The body did not arrive whole: the connection broke.
			r.s.broken.Store(true)
			return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: UID %d: connection lost after %d of %d bytes: %w", r.name, uid, guard.n, guard.size, err))
		}
		return nil, fmt.Errorf("imap: %s: UID %d: %w", r.name, uid, err)
	}
	if guard.n != guard.size {
		// Stage saw io.ErrUnexpectedEOF from the guard and failed; this is
		// the second line of defence.
		r.target.Discard(staged)
		return nil, failure.New(failure.Temporary, fmt.Sprintf("imap: %s: UID %d: message cut short: %d of %d bytes", r.name, uid, guard.n, guard.size))
	}
	if r.mda {
		rec.unique = mdaUniqueFor(hasher.messageID())
	} else {
		rec.unique = staged.Unique()
	}
	return &stagedMsg{uid: uid, staged: staged, rec: rec}, nil
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

func (r *folderRun) emitDelivered(uid imap.UID, st *maildir.Staged, flags maildir.Flags) {
	h := st.Header()
	r.e.emit(report.Event{Kind: report.Delivered, Folder: r.name, ServerID: uidStr(uid), Path: st.Path(),
		Size: st.Size(), Flags: string(flags), MessageID: h.MessageID, From: h.From, Subject: h.Subject, Date: h.Date})
}

// literalGuard reads a literal and fails with io.ErrUnexpectedEOF when it
// ends before its announced size: go-imap's literal reader ends a cut
// connection with a short read and io.EOF, which would otherwise pass for
// the end of the message.
//
// It also records on the session that a literal failed: go-imap then has
// handed the stream back to its reader goroutine, and the literal must
// never be read again, which FetchCommand.Next and Close would do to
// discard it (two goroutines on one bufio.Reader). See session.drain.
type literalGuard struct {
	r    io.Reader
	size int64
	n    int64
	s    *session
}

func (g *literalGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	if err != nil && !(err == io.EOF && g.n == g.size) && g.s != nil {
		g.s.literalBroken.Store(true)
	}
	if err == io.EOF && g.n < g.size {
		return n, io.ErrUnexpectedEOF
	}
	if g.n > g.size {
		return n, fmt.Errorf("literal longer than its announced %d bytes", g.size)
	}
	return n, err
}

// lfReader turns CRLF line ends into LF, streaming through fixed
// buffers. IMAP serves messages with CRLF; a Maildir holds them with LF,
// as Dovecot's own Maildir files and Unix mail readers have them, so the
// local file equals the server's stored copy. A CR not followed by LF is
// kept.
type lfReader struct {
	r      io.Reader
	bufs   *lfBuffers // from lfPool, until release
	in     []byte
	obuf   []byte
	out    []byte // converted bytes not yet returned
	heldCR bool   // the last byte read was a CR: written once the next is known
	err    error
}

const lfBuf = 32 << 10

// lfBuffers are the buffers of one lfReader. They are pooled: a sync of
// 10,000 messages would otherwise allocate (and clear) 640 MB of them.
type lfBuffers struct {
	in  [lfBuf]byte
	out [lfBuf + 1]byte
}

var lfPool = gosync.Pool{New: func() any { return new(lfBuffers) }}

func newLFReader(r io.Reader) *lfReader {
	b := lfPool.Get().(*lfBuffers)
	return &lfReader{r: r, bufs: b, in: b.in[:], obuf: b.out[:0]}
}

// release gives the reader's buffers back to the pool; a Read after it
// fails.
func (l *lfReader) release() {
	if l.bufs == nil {
		return
	}
	l.in, l.obuf, l.out = nil, nil, nil
	lfPool.Put(l.bufs)
	l.bufs = nil
}

var errReleased = errors.New("imap: read of a released body")

func (l *lfReader) Read(p []byte) (int, error) {
	if l.bufs == nil {
		return 0, errReleased
	}
	for len(l.out) == 0 {
		if l.err != nil {
			if !l.heldCR {
				return 0, l.err
			}
			l.heldCR = false
			l.out = append(l.obuf[:0], '\r')
			break
		}
		n, err := l.r.Read(l.in)
		if err != nil {
			l.err = err
		}
		in, o := l.in[:n], l.obuf[:0]
		if l.heldCR && len(in) > 0 {
			l.heldCR = false
			if in[0] != '\n' {
				o = append(o, '\r')
			}
		}
		for len(in) > 0 {
			i := bytes.IndexByte(in, '\r')
			if i < 0 {
				o = append(o, in...)
				break
			}
			o = append(o, in[:i]...)
			switch {
			case i+1 == len(in):
				l.heldCR = true // decided by the next read
				in = nil
			case in[i+1] == '\n':
				o = append(o, '\n')
				in = in[i+2:]
			default:
				o = append(o, '\r')
				in = in[i+1:]
			}
		}
		l.out = o
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
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

// fetchMeta is what collect gathers from one FETCH response.
type fetchMeta struct {
	uid      imap.UID
	flags    []imap.Flag
	hasFlags bool
	size     int64
	date     time.Time
	envelope *imap.Envelope
	header   []byte // a HEADER.FIELDS section, at most maxHeaderRead bytes
	modSeq   uint64 // MODSEQ, when asked for
}

// collect reads one FETCH response without bodies larger than a header.
// It replaces go-imap's Collect, which on a failed literal reads it again
// to discard it (see literalGuard): here a failed literal marks the
// session and the caller must abort and drain.
func (s *session) collect(msg *imapclient.FetchMessageData) (*fetchMeta, error) {
	m := &fetchMeta{}
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			m.uid = it.UID
		case imapclient.FetchItemDataFlags:
			m.flags, m.hasFlags = it.Flags, true
		case imapclient.FetchItemDataRFC822Size:
			m.size = it.Size
		case imapclient.FetchItemDataInternalDate:
			m.date = it.Time
		case imapclient.FetchItemDataEnvelope:
			m.envelope = it.Envelope
		case imapclient.FetchItemDataModSeq:
			m.modSeq = it.ModSeq
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			g := &literalGuard{r: it.Literal, size: it.Literal.Size(), s: s}
			b, err := io.ReadAll(io.LimitReader(g, maxHeaderRead))
			if err != nil {
				return nil, err
			}
			m.header = b
		}
	}
	return m, nil
}
