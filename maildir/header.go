package maildir

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset, not only UTF-8 and ASCII
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Header holds the fields of a delivered message that events report,
// decoded (RFC 2047 words, charsets) and flattened to one line of valid
// UTF-8. A field that is missing or cannot be read is empty (Date zero):
// a broken header never fails a delivery.
type Header struct {
	MessageID string // without the angle brackets
	From      string // "Name <addr>, ..." or the decoded text when it does not parse
	Subject   string
	Date      time.Time
}

// maxHeader bounds the header captured while staging: a message whose
// header goes on longer is read for its first 64 KiB only.
const maxHeader = 64 << 10

// maxField bounds each decoded field: they are for display.
const maxField = 1000

// ReadHeader reads the header of the message in r (at most its first 64
// KiB) and decodes it as a delivery does (see Header). What follows the
// header may be read in part; r is not drained. A read error ends the
// header where it is.
func ReadHeader(r io.Reader) Header {
	var h headerCapture
	buf := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(buf)
	for !h.done {
		n, err := r.Read(buf[:])
		h.feed(buf[:n])
		if err != nil {
			break
		}
	}
	return h.result()
}

// headerCapture collects the header of a message as it streams past.
type headerCapture struct {
	buf  []byte
	done bool
	hdr  Header
}

// feed takes the next chunk of the message. The common case, a header
// complete within the first chunk, is parsed in place without a copy.
func (h *headerCapture) feed(p []byte) {
	if h.done {
		return
	}
	if len(h.buf) == 0 {
		if end := headerEnd(p[:min(len(p), maxHeader)], 0); end >= 0 {
			h.finish(p[:end])
			return
		}
	}
	from := max(len(h.buf)-2, 0) // the end may straddle two chunks
	room := maxHeader - len(h.buf)
	h.buf = append(h.buf, p[:min(len(p), room)]...)
	if end := headerEnd(h.buf, from); end >= 0 {
		h.finish(h.buf[:end])
	} else if len(h.buf) >= maxHeader {
		h.finish(h.buf)
	}
}

// result is the decoded header, from what was captured if the message
// ended inside its header.
func (h *headerCapture) result() Header {
	if !h.done {
		h.finish(h.buf)
	}
	return h.hdr
}

func (h *headerCapture) finish(raw []byte) {
	h.done = true
	h.hdr = parseHeader(raw)
	h.buf = nil
}

// headerEnd returns the length of the header in b (up to and including
// the newline of its last field), or -1 when its end is not in b yet. The
// search starts at from.
func headerEnd(b []byte, from int) int {
	if from == 0 && (bytes.HasPrefix(b, []byte("\n")) || bytes.HasPrefix(b, []byte("\r\n"))) {
		return 0 // no header at all
	}
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if rest := b[i:]; bytes.HasPrefix(rest, []byte("\n")) || bytes.HasPrefix(rest, []byte("\r\n")) {
			return i
		}
	}
}

// parseHeader decodes the fields of a raw header, tolerating damage:
// lines that are not fields (an mbox "From " line, garbage) are dropped
// before go-message reads the rest, and each field falls back to its raw
// text when it does not parse.
func parseHeader(raw []byte) Header {
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(cleanHeader(raw))))
	h := mail.Header{Header: message.Header{Header: th}}
	var out Header

	if id, err := h.MessageID(); err == nil && id != "" {
		out.MessageID = id
	} else {
		out.MessageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	}

	if addrs, err := h.AddressList("From"); err == nil && len(addrs) > 0 {
		parts := make([]string, len(addrs))
		for i, a := range addrs {
			parts[i] = a.Address
			if a.Name != "" {
				parts[i] = a.Name + " <" + a.Address + ">"
			}
		}
		out.From = strings.Join(parts, ", ")
	} else {
		out.From, _ = h.Text("From") // the raw text when it does not decode
	}

	out.Subject, _ = h.Subject() // the raw text when it does not decode
	if d, err := h.Date(); err == nil {
		out.Date = d
	}
	out.MessageID = flatten(out.MessageID)
	out.From = flatten(out.From)
	out.Subject = flatten(out.Subject)
	return out
}

// cleanHeader keeps the lines of raw that are header fields ("Name:" with
// a valid name) and their continuation lines, and ends them with the empty
// line go-message's reader wants. A header cut short (64 KiB reached, or
// a message without body) loses its incomplete last line.
func cleanHeader(raw []byte) []byte {
	if i := bytes.LastIndexByte(raw, '\n'); i >= 0 {
		raw = raw[:i+1]
	} else {
		raw = nil
	}
	out := make([]byte, 0, len(raw)+2)
	keep := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i+1], raw[i+1:]
		} else {
			raw = nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A continuation line belongs to the field before it.
		} else {
			keep = isFieldLine(line)
		}
		if keep {
			out = append(out, line...)
		}
	}
	return append(out, "\r\n"...)
}

// isFieldLine reports whether line starts a header field: a name of
// printable ASCII other than ':' (RFC 5322 section 2.2), maybe followed by
// blanks as seen in the wild, then ':'.
func isFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// flatten makes s fit one line of a display: valid UTF-8, no control
// characters, runs of white space as one space, at most maxField bytes.
func flatten(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxField {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
