package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// dotReader streams the body of a multi-line reply (RFC 1939 §3): it undoes
// byte-stuffing, turns CRLF into LF, keeps bare CRs, and ends with io.EOF at
// the terminating "." line, leaving the bytes after it unread. It copies from
// the bufio.Reader's buffer straight into the caller's, so a message of any
// size costs one fixed buffer.
type dotReader struct {
	br      *bufio.Reader
	maxLine int  // longest line accepted, on the wire, line ending included
	bol     bool // at the beginning of a line
	lineLen int  // wire bytes of the current line consumed so far
	err     error
	// onEnd is called once, with nil at the terminator or with the error
	// that stopped reading; it returns the error to keep (the Client names
	// the command and marks the session broken).
	onEnd func(error) error
}

func newDotReader(br *bufio.Reader, maxLine int, onEnd func(error) error) *dotReader {
	return &dotReader{br: br, maxLine: maxLine, bol: true, onEnd: onEnd}
}

// Read implements io.Reader.
func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && d.err == nil {
		if d.bol {
			// Up to three bytes decide whether this is the terminator. With
			// data in hand, return it rather than wait for them.
			if n > 0 && d.br.Buffered() < 3 {
				break
			}
			if !d.startLine() {
				break
			}
		}
		if d.br.Buffered() == 0 {
			if n > 0 {
				break
			}
			if _, err := d.br.Peek(1); err != nil {
				d.fail(err)
				break
			}
		}
		buf, _ := d.br.Peek(d.br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if d.lineLen+i+1 > d.maxLine {
				d.fail(protoErrorf("message line longer than %d bytes", d.maxLine))
				break
			}
			line := buf[:i]
			if k := len(line); k > 0 && line[k-1] == '\r' {
				line = line[:k-1]
			}
			if room := len(p) - n; len(line) >= room {
				// Only part of the line fits; the rest, CRLF included, waits
				// in the buffer for the next call.
				k := copy(p[n:], line[:room])
				n += k
				d.discard(k)
				continue
			}
			n += copy(p[n:], line)
			p[n] = '\n'
			n++
			d.discard(i + 1)
			d.bol = true
			continue
		}
		if d.lineLen+len(buf) > d.maxLine {
			d.fail(protoErrorf("message line longer than %d bytes", d.maxLine))
			break
		}
		seg := buf
		if seg[len(seg)-1] == '\r' {
			// Perhaps the CR of a CRLF: keep it until the next byte tells.
			seg = seg[:len(seg)-1]
			if len(seg) == 0 {
				if n > 0 {
					break
				}
				if _, err := d.br.Peek(2); err != nil {
					d.fail(err)
				}
				continue
			}
		}
		k := copy(p[n:], seg)
		n += k
		d.discard(k)
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

// startLine handles the first bytes of a line: the terminator ends the body;
// a leading '.' is byte-stuffing and is dropped (RFC 1939 §3; a server that
// fails to stuff a line starting with '.' loses that dot, as with every
// client). It reports whether reading may go on.
func (d *dotReader) startLine() bool {
	d.bol = false
	d.lineLen = 0
	b, err := d.br.Peek(1)
	if err != nil {
		d.fail(err)
		return false
	}
	if b[0] != '.' {
		return true
	}
	if b, err = d.br.Peek(2); err != nil {
		d.fail(err)
		return false
	}
	switch b[1] {
	case '\n':
		d.discard(2)
		d.finish()
		return false
	case '\r':
		if b, err = d.br.Peek(3); err != nil {
			d.fail(err)
			return false
		}
		if b[2] == '\n' {
			d.discard(3)
			d.finish()
			return false
		}
	}
	d.discard(1)
	return true
}

func (d *dotReader) discard(k int) {
	d.br.Discard(k) // cannot fail: k bytes are buffered
	d.lineLen += k
}

func (d *dotReader) finish() {
	d.err = io.EOF
	if d.onEnd != nil {
		d.onEnd(nil)
	}
}

func (d *dotReader) fail(err error) {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if d.onEnd != nil {
		err = d.onEnd(err)
	}
	d.err = err
}

// Close reads and discards the rest of the body up to the terminator, so that
// the session can go on. It returns the error that cut the body short, if
// any, so a caller that checks only Close still learns of it.
func (d *dotReader) Close() error {
	if d.err == nil {
		io.Copy(io.Discard, d)
	}
	if d.err == io.EOF {
		return nil
	}
	return d.err
}
