package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads bounded lines from the server. The returned slice is
// reused by the next call.
type lineReader struct {
	br  *bufio.Reader
	max int // longest line accepted, line ending included
	buf []byte
}

// readLine returns the next line without its line ending. Both CRLF and a
// bare LF end a line (some servers send bare LF). A line longer than max is
// a protocol error: reading stops there rather than buffer without bound.
func (lr *lineReader) readLine() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		// Scan what is buffered rather than ReadSlice: a hostile server
		// that sends a long line and stalls gets its error at once,
		// not when the buffer has filled.
		if lr.br.Buffered() == 0 {
			if _, err := lr.br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		buf, _ := lr.br.Peek(lr.br.Buffered())
		i := bytes.IndexByte(buf, '\n')
		take := len(buf)
		if i >= 0 {
			take = i + 1
		}
		if len(lr.buf)+take > lr.max {
			return nil, protoErrorf("line longer than %d bytes", lr.max)
		}
		lr.buf = append(lr.buf, buf[:take]...)
		lr.br.Discard(take)
		if i >= 0 {
			break
		}
	}
	line := lr.buf[:len(lr.buf)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readMultiline reads the lines of a multi-line reply (RFC 1939 §3) up to the
// terminating "." line, undoes byte-stuffing, and passes each line to fn.
// maxTotal bounds the bytes read. An error from fn is kept and reading goes
// on to the terminator, so the session stays in step: it comes back as
// invalid, with err nil. err is a connection or protocol error after which
// the session is out of step.
func readMultiline(lr *lineReader, maxTotal int64, fn func(line []byte) error) (invalid, err error) {
	var total int64
	for {
		line, err := lr.readLine()
		if err != nil {
			return invalid, err
		}
		total += int64(len(line)) + 2
		if total > maxTotal {
			return invalid, protoErrorf("multi-line reply longer than %d bytes", maxTotal)
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return invalid, nil
			}
			line = line[1:]
		}
		if invalid == nil {
			invalid = fn(line)
		}
	}
}
