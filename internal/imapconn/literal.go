package imapconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// literalGuard reads a literal and fails with io.ErrUnexpectedEOF when it
// ends before its announced size: go-imap's literal reader ends a cut
// connection with a short read and io.EOF, which would otherwise pass for
// the end of the message.
//
// It also records on the session that a literal failed: go-imap then has
// handed the stream back to its reader goroutine, and the literal must
// never be read again, which FetchCommand.Next and Close would do to
// discard it (two goroutines on one bufio.Reader). See Session.drain.
type literalGuard struct {
	r    io.Reader
	size int64
	n    int64
	s    *Session
}

func (s *Session) guard(lit imap.LiteralReader) *literalGuard {
	return &literalGuard{r: lit, size: lit.Size(), s: s}
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

var lfPool = sync.Pool{New: func() any { return new(lfBuffers) }}

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
		l.out = l.convert(l.in[:n])
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}

// convert turns the CRLFs of in into LFs in obuf, holding a CR at the
// end back until the next byte is known.
func (l *lfReader) convert(in []byte) []byte {
	o := l.obuf[:0]
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
	return o
}

// answer is what one FETCH response says of a message.
type answer struct {
	seq      uint32
	uid      UID
	flags    Flags
	hasFlags bool
	size     int64
	date     time.Time
	envelope *imap.Envelope
	modSeq   uint64
	header   []byte  // a header section, as readHeader read it
	digest   *Digest // a body's digest (FetchDigests)
}

// bodyFunc reads the literal of a body section as it comes (the items
// before it are in a); lit is nil for a NIL body.
type bodyFunc func(a *answer, lit imap.LiteralReader) error

// read reads the items of one FETCH response into a, in whatever order
// they come. A body section goes to body; without one (or for a NIL body)
// its literal is read through the guard and dropped, never left to
// go-imap's Next to discard (see literalGuard). A failed read leaves the
// connection to be aborted and the command drained.
func (s *Session) read(msg *imapclient.FetchMessageData, a *answer, body bodyFunc) error {
	a.seq = msg.SeqNum
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			a.uid = UID(it.UID)
		case imapclient.FetchItemDataFlags:
			a.flags, a.hasFlags = flagsOf(it.Flags), true
		case imapclient.FetchItemDataRFC822Size:
			a.size = it.Size
		case imapclient.FetchItemDataInternalDate:
			a.date = it.Time
		case imapclient.FetchItemDataEnvelope:
			a.envelope = it.Envelope
		case imapclient.FetchItemDataModSeq:
			a.modSeq = it.ModSeq
		case imapclient.FetchItemDataBodySection:
			if body != nil {
				if err := body(a, it.Literal); err != nil {
					return err
				}
				continue
			}
			if it.Literal != nil {
				if _, err := io.Copy(io.Discard, s.guard(it.Literal)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
