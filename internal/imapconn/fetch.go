package imapconn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// maxHeaderRead bounds how much of a message is read for its header.
const maxHeaderRead = 64 << 10

// FetchMeta implements Conn: UID FETCH (UID FLAGS INTERNALDATE
// RFC822.SIZE [ENVELOPE]). The sequence numbers of the answers are kept
// for FetchBodies, should the server need to be asked by them.
func (s *Session) FetchMeta(ctx context.Context, uids []UID, envelope bool) ([]Meta, error, error) {
	set, ok := s.uidSet(uids)
	if !ok {
		return nil, nil, nil // never an empty set on the wire
	}
	s.orphanBodies.Store(0)
	want := make(map[UID]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	s.seqEpoch, s.seqs = s.expunges.Load(), map[UID]uint32{}
	var out []Meta
	opts := &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: envelope}
	err := s.fetchEach(ctx, set, opts, "UID FETCH (RFC822.SIZE)", func(a *answer) {
		if !want[a.uid] {
			return // n:* answers the last message even when it is old
		}
		delete(want, a.uid)
		s.seqs[a.uid] = a.seq
		out = append(out, Meta{UID: a.uid, Size: a.size, Flags: a.flags, Date: a.date, Envelope: envelopeOf(a.envelope)})
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(out, func(a, b Meta) int { return cmp.Compare(a.UID, b.UID) })
	if len(want) > 0 {
		return out, s.checkMissing(slices.Sorted(maps.Keys(want))), nil
	}
	return out, nil, nil
}

func envelopeOf(env *imap.Envelope) *Envelope {
	if env == nil {
		return nil
	}
	out := &Envelope{Subject: env.Subject, MessageID: env.MessageID, Date: env.Date}
	if len(env.From) > 0 {
		a := env.From[0]
		out.From = a.Addr()
		if a.Name != "" {
			out.From = a.Name + " <" + a.Addr() + ">"
		}
	}
	return out
}

// uidSet is the set to ask for uids: spanning the UIDs the folder does not
// hold, as the last SearchAll listed them, so that it stays short.
func (s *Session) uidSet(uids []UID) (imap.UIDSet, bool) {
	if s.uids == nil {
		return uidSetOf(uids)
	}
	return uidSetAcross(uids, s.uids)
}

// FetchBodies implements Conn: UID FETCH (UID FLAGS INTERNALDATE
// BODY.PEEK[]) streams them all; see fetchLiterals for a server that
// sends BODY[] before UID. Every guard of LIBRARIES.md is on the way: a
// body's length is checked against its literal's size (a cut connection
// gives a short read without error), every message asked for must come
// back or be gone from the server, and the command is always drained or
// the connection aborted.
func (s *Session) FetchBodies(ctx context.Context, msgs []Meta, receive ReceiveFunc) error {
	if len(msgs) == 0 {
		return nil
	}
	f := &literalFetch{
		what: "(UID FLAGS INTERNALDATE BODY.PEEK[])",
		opts: imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}, // PEEK: never sets \Seen
		want: make(map[UID]Meta, len(msgs)),
	}
	for _, m := range msgs {
		f.want[m.UID] = m
	}
	f.body = func(m Meta, _ *answer, lit imap.LiteralReader) (Received, error) {
		return s.receiveBody(m, lit, receive)
	}
	if err := s.fetchLiterals(ctx, f); err != nil {
		return err
	}
	missing := f.missing()
	if len(missing) == 0 {
		return nil
	}
	if f.bySeq && (f.noUID > 0 || f.mismatch > 0 || s.orphanBodies.Load() > 0) {
		return failure.New(failure.Other, fmt.Sprintf(
			"imap: %s: %d message bod(ies) came without their UID and %d with another UID than their sequence number stands for, so %d message(s) were not fetched (UIDs %s); they will be tried again",
			s.mailbox, f.noUID+int(s.orphanBodies.Load()), f.mismatch, len(missing), uidSample(missing)))
	}
	return s.checkMissing(missing)
}

// receiveBody gives one body to receive, LF-converted and guarded, and
// checks that the body came whole.
func (s *Session) receiveBody(m Meta, lit imap.LiteralReader, receive ReceiveFunc) (Received, error) {
	if lit == nil {
		return nil, failure.New(failure.Other, fmt.Sprintf("imap: %s: UID %d: the server sent no body (NIL)", s.mailbox, m.UID))
	}
	g := s.guard(lit)
	lf := newLFReader(g)
	defer lf.release() // receive has read what it reads when it returns
	rec, err := receive(m, lf)
	if err != nil {
		if g.n < g.size && failure.KindOf(err) != failure.LocalIO {
			// The body did not arrive whole: the connection broke.
			s.broken.Store(true)
			return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: UID %d: connection lost after %d of %d bytes: %w", s.mailbox, m.UID, g.n, g.size, err))
		}
		return nil, fmt.Errorf("imap: %s: UID %d: %w", s.mailbox, m.UID, err)
	}
	if g.n != g.size {
		// receive saw io.ErrUnexpectedEOF from the guard and took it for
		// the end: the second line of defence.
		if rec != nil {
			rec.Drop()
		}
		return nil, failure.New(failure.Temporary, fmt.Sprintf("imap: %s: UID %d: message cut short: %d of %d bytes", s.mailbox, m.UID, g.n, g.size))
	}
	return rec, nil
}

// FetchHeaders implements Conn: UID FETCH (UID BODY.PEEK[HEADER]).
func (s *Session) FetchHeaders(ctx context.Context, uids []UID) (map[UID][]byte, error) {
	out := map[UID][]byte{}
	if len(uids) == 0 {
		return out, nil
	}
	f := &literalFetch{
		what: "(BODY.PEEK[HEADER])",
		opts: imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}},
		want: metasOf(uids),
		body: s.readHeader,
		each: func(a *answer, m Meta) {
			if a.header != nil {
				out[m.UID] = a.header
			}
		},
	}
	if err := s.fetchLiterals(ctx, f); err != nil {
		return out, err
	}
	return out, nil
}

// FetchAllHeaders implements Conn: UID FETCH 1:* (UID FLAGS RFC822.SIZE
// BODY.PEEK[HEADER.FIELDS (fields)]).
func (s *Session) FetchAllHeaders(ctx context.Context, fields ...string) ([]Header, error) {
	if s.sel == nil || s.sel.Messages == 0 {
		return nil, nil
	}
	var out []Header
	f := &literalFetch{
		what: "(BODY.PEEK[HEADER.FIELDS (" + strings.Join(fields, " ") + ")])",
		opts: imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{
			{Specifier: imap.PartSpecifierHeader, HeaderFields: fields, Peek: true}}},
		body: s.readHeader,
		each: func(a *answer, m Meta) {
			out = append(out, Header{UID: m.UID, Size: a.size, Flags: a.flags, Header: a.header})
		},
	}
	if err := s.fetchLiterals(ctx, f); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Header) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}

// readHeader reads a header section's literal into a.header.
func (s *Session) readHeader(m Meta, a *answer, lit imap.LiteralReader) (Received, error) {
	if lit == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(s.guard(lit), maxHeaderRead))
	if err != nil {
		return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: UID %d: header: %w", s.mailbox, m.UID, err))
	}
	a.header = b
	return nil, nil
}

// FetchDigests implements Conn: UID FETCH (UID BODY.PEEK[]), each body
// hashed as it streams, in its local form.
func (s *Session) FetchDigests(ctx context.Context, uids []UID) (map[UID]Digest, error) {
	out := map[UID]Digest{}
	if len(uids) == 0 {
		return out, nil
	}
	f := &literalFetch{
		what: "(BODY.PEEK[])",
		opts: imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}},
		want: metasOf(uids),
		body: func(m Meta, a *answer, lit imap.LiteralReader) (Received, error) {
			if lit == nil {
				return nil, nil
			}
			h := sha256.New()
			lf := newLFReader(s.guard(lit))
			_, err := io.Copy(h, lf)
			lf.release()
			if err != nil {
				return nil, failure.Wrap(failure.Temporary, fmt.Errorf("imap: %s: UID %d: %w", s.mailbox, m.UID, err))
			}
			a.digest = new(Digest)
			copy(a.digest[:], h.Sum(nil))
			return nil, nil
		},
		each: func(a *answer, m Meta) {
			if a.digest != nil {
				out[m.UID] = *a.digest
			}
		},
	}
	if err := s.fetchLiterals(ctx, f); err != nil {
		return nil, err
	}
	return out, nil
}

func metasOf(uids []UID) map[UID]Meta {
	out := make(map[UID]Meta, len(uids))
	for _, u := range uids {
		out[u] = Meta{UID: u}
	}
	return out
}

// literalFetch is one FETCH whose answers carry a literal (a body, a
// header): FetchBodies, FetchHeaders, FetchAllHeaders and FetchDigests
// all go through fetchLiterals.
type literalFetch struct {
	what string            // the items, for messages
	opts imap.FetchOptions // UID among them
	// want are the messages asked for; nil: every message of the folder.
	want map[UID]Meta
	// body reads the literal of the message m (with want nil, by sequence
	// number, m.UID is 0 until the response's UID comes); lit is nil for
	// NIL. What it returns is kept or dropped once the response is read.
	body func(m Meta, a *answer, lit imap.LiteralReader) (Received, error)
	// each, when set, is called for every response whose message is
	// confirmed, after Keep.
	each func(a *answer, m Meta)

	got             map[UID]bool
	bySeq           bool // a pass by sequence number was made
	noUID, mismatch int  // bodies such a pass could not take
}

// missing returns the messages asked for that did not come, sorted.
func (f *literalFetch) missing() []UID {
	var out []UID
	for u := range f.want {
		if !f.got[u] {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// fetchLiterals runs a literal fetch. A server may send BODY[] before UID
// in a FETCH response (RFC 3501 does not order the items). go-imap routes
// a UID FETCH's responses by the UID seen before the first literal, so
// such bodies land in the unilateral handler (orphanBodies) and their
// messages come back missing. Then the missing ones are fetched again at
// once by sequence number, which go-imap routes by the number every
// response starts with, and the Dialer remembers the quirk so that every
// later fetch of the run goes by sequence number straight away. The UID
// FETCH stays the way for every other server: it does not depend on
// sequence numbers, which another client's expunge shifts.
func (s *Session) fetchLiterals(ctx context.Context, f *literalFetch) error {
	f.got = map[UID]bool{}
	if !s.d.bodyFirst.Load() {
		set, ok := imap.NumSet(imap.UIDSet{{Start: 1, Stop: 0}}), true
		if f.want != nil {
			set, ok = s.uidSet(slices.Sorted(maps.Keys(f.want)))
		}
		if !ok {
			return nil
		}
		if err := s.literalPass(ctx, f, set, nil); err != nil {
			return err
		}
		n := s.orphanBodies.Load()
		missing := f.missing()
		if n == 0 || f.want != nil && len(missing) == 0 {
			return nil
		}
		s.d.bodyFirst.Store(true)
		what := "them"
		if f.want != nil {
			what = fmt.Sprintf("%d message(s)", len(missing))
		}
		s.notice(fmt.Sprintf("the server sent %d message bod(ies) before their UID; fetching %s again by sequence number, and so for the rest of this run", n, what))
	}
	return s.seqPass(ctx, f)
}

// seqPass fetches by sequence number what a literal fetch still lacks:
// each body is taken for the message its number stands for, and kept only
// when the response's UID, wherever it comes in the response, is that
// message's; a body without its UID, or with another, is dropped and the
// message tried again next time. Numbers come from FetchMeta's answers
// while no EXPUNGE came since (RFC 3501 7.4.1 forbids one during a
// FETCH), else they are read again (seqNumbers).
func (s *Session) seqPass(ctx context.Context, f *literalFetch) error {
	f.bySeq = true
	if f.want == nil {
		return s.literalPass(ctx, f, imap.SeqSet{{Start: 1, Stop: 0}}, map[uint32]Meta{})
	}
	var metas []Meta
	for _, u := range f.missing() {
		metas = append(metas, f.want[u])
	}
	bySeq, err := s.seqNumbers(ctx, metas)
	if err != nil {
		return err
	}
	seqs := make([]uint32, 0, len(bySeq))
	for n := range bySeq {
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	set, ok := seqSetOf(seqs)
	if !ok {
		return nil
	}
	return s.literalPass(ctx, f, set, bySeq)
}

// seqNumbers maps the sequence numbers of metas to them: those FetchMeta
// saw, while no EXPUNGE came since; else read again with a UID FETCH
// (UID), which carries no literal and so is routed whatever the order of
// its items. A message missing from the map was expunged.
func (s *Session) seqNumbers(ctx context.Context, metas []Meta) (map[uint32]Meta, error) {
	out := make(map[uint32]Meta, len(metas))
	if s.seqs != nil && s.expunges.Load() == s.seqEpoch {
		for _, m := range metas {
			n, ok := s.seqs[m.UID]
			if !ok || n == 0 {
				out = nil
				break
			}
			out[n] = m
		}
		if out != nil {
			return out, nil
		}
	}
	out = make(map[uint32]Meta, len(metas))
	byUID := make(map[UID]Meta, len(metas))
	uids := make([]UID, len(metas))
	for i, m := range metas {
		byUID[m.UID] = m
		uids[i] = m.UID
	}
	set, ok := uidSetOf(uids)
	if !ok {
		return out, nil
	}
	epoch := s.expunges.Load()
	seqs := map[UID]uint32{}
	err := s.fetchEach(ctx, set, &imap.FetchOptions{UID: true}, "UID FETCH (UID)", func(a *answer) {
		if m, ok := byUID[a.uid]; ok && a.seq != 0 {
			out[a.seq] = m
			seqs[a.uid] = a.seq
		}
	})
	if err != nil {
		return nil, err
	}
	if s.expunges.Load() != epoch {
		return nil, failure.New(failure.Temporary, fmt.Sprintf("imap: %s: messages were expunged while their sequence numbers were read; the new ones will be fetched next run", s.mailbox))
	}
	s.seqEpoch, s.seqs = epoch, seqs
	return out, nil
}

// literalPass runs one FETCH of a literal fetch: by UID when bySeq is nil,
// else by the sequence numbers of bySeq (with want nil: of every
// message). On an error it stops the transfer at once (draining would
// download the rest for nothing, and an unread body blocks go-imap).
func (s *Session) literalPass(ctx context.Context, f *literalFetch, set imap.NumSet, bySeq map[uint32]Meta) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	command := "UID FETCH"
	if bySeq != nil {
		command = "FETCH"
	}
	s.orphanBodies.Store(0)
	cmd := s.c.Fetch(set, &f.opts)
	var err error
	for err == nil {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		err = s.take(f, msg, bySeq)
	}
	if err != nil {
		s.Abort()
		s.drain(cmd)
		return err
	}
	if err := cmd.Close(); err != nil {
		return s.fail(fmt.Errorf("imap: %s: %s %s: %w", s.mailbox, command, f.what, err))
	}
	return nil
}

// take reads one response of a literal fetch, gives its body to f.body
// as the message it stands for, and keeps what f.body made of it once the
// response's UID confirms it, or drops it.
func (s *Session) take(f *literalFetch, msg *imapclient.FetchMessageData, bySeq map[uint32]Meta) error {
	var a answer
	var m Meta
	var rec Received
	taken := false
	err := s.read(msg, &a, func(a *answer, lit imap.LiteralReader) error {
		want, ok := f.expect(a, msg.SeqNum, bySeq)
		if !ok || taken {
			return nil // Next discards the literal
		}
		r, err := f.body(want.with(a), a, lit)
		if err != nil {
			return err
		}
		m, rec, taken = want, r, true
		return nil
	})
	if err != nil {
		if rec != nil {
			rec.Drop()
		}
		return err
	}
	if !taken {
		return f.untaken(&a, bySeq)
	}
	return f.settle(&a, m, rec, bySeq)
}

// untaken ends a response whose literal was not taken: by sequence
// number, a UID that contradicts the number is counted; with want nil, a
// message without a literal is an answer all the same.
func (f *literalFetch) untaken(a *answer, bySeq map[uint32]Meta) error {
	if want, ok := bySeq[a.seq]; ok && a.uid != 0 && a.uid != want.UID {
		f.mismatch++
	}
	if f.want == nil && a.uid != 0 && !f.got[a.uid] {
		return f.keep(a, Meta{UID: a.uid}, nil)
	}
	return nil
}

// settle keeps what was received for the message m, once the response's
// UID confirms it: by UID it did before the body; by sequence number it
// must be m's (or, with want nil, one not received yet).
func (f *literalFetch) settle(a *answer, m Meta, rec Received, bySeq map[uint32]Meta) error {
	if bySeq != nil && (a.uid == 0 || f.want != nil && a.uid != m.UID || f.want == nil && f.got[a.uid]) {
		// Not the message the number stood for, or no UID at all: never
		// kept. (For an MDA the delivery happened; its intent stays
		// pending, so the message is delivered again.)
		if rec != nil {
			rec.Drop()
		}
		switch {
		case a.uid == 0:
			f.noUID++
		case f.want != nil:
			f.mismatch++
		}
		return nil
	}
	if f.want == nil {
		m.UID = a.uid
	}
	return f.keep(a, m, rec)
}

// expect returns the message a body in response a (number seq) is to be
// taken for, and false when it is not to be taken: not a message asked
// for, one already received, or (by sequence number) one whose UID the
// response already contradicts.
func (f *literalFetch) expect(a *answer, seq uint32, bySeq map[uint32]Meta) (Meta, bool) {
	switch {
	case bySeq == nil && f.want == nil:
		return Meta{UID: a.uid}, a.uid != 0 && !f.got[a.uid]
	case bySeq == nil:
		m, ok := f.want[a.uid]
		return m, ok && a.uid != 0 && !f.got[a.uid]
	case f.want == nil:
		return Meta{UID: a.uid}, a.uid == 0 || !f.got[a.uid]
	}
	m, ok := bySeq[seq]
	return m, ok && !f.got[m.UID] && (a.uid == 0 || a.uid == m.UID)
}

// keep keeps what was received for m and counts m as received.
func (f *literalFetch) keep(a *answer, m Meta, rec Received) error {
	if rec != nil {
		if err := rec.Keep(); err != nil {
			return err
		}
	}
	f.got[m.UID] = true
	if f.each != nil {
		f.each(a, m)
	}
	return nil
}

// with is m with what the response said before its body: its flags and
// date are fresher than the pre-pass's.
func (m Meta) with(a *answer) Meta {
	if a.hasFlags {
		m.Flags = a.flags
	}
	if !a.date.IsZero() {
		m.Date = a.date
	}
	if m.Size == 0 {
		m.Size = a.size
	}
	return m
}
