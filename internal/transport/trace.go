package transport

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Trace writes a transcript of one connection's conversation, a line of
// output per protocol line: "C: " for what the client sent, "S: " for what
// the server sent. It never shows credentials: the arguments of POP3 PASS
// and APOP, IMAP LOGIN (quoted strings and literals alike), the initial
// response of POP3 AUTH and IMAP AUTHENTICATE, and every client line of a
// SASL exchange until the server's final reply are replaced by "<redacted>".
//
// Server lines are cut at 200 bytes; POP3 message bodies (RETR, TOP) and
// IMAP literals are shown as "<N bytes>"; control characters are escaped.
// A Trace follows the state of one conversation (commands in flight, SASL
// exchanges, literals), so it serves one connection: make one per
// connection. Several may share a writer that is safe for concurrent use;
// each output line is a single Write. A Trace is safe for concurrent use.
type Trace struct {
	owner atomic.Pointer[Conn] // the Conn it traces, see Conn.SetTrace

	mu     sync.Mutex
	w      io.Writer
	d      dialect
	in     [2]lineState // by side
	opaque bool         // TLS started above the trace: nothing more to show
	out    []byte
}

// NewTrace returns a Trace that writes to w and parses the protocol proto:
// "pop3" or "imap" (any case). For any other proto every client line is
// redacted, as the Trace cannot tell commands from credentials.
func NewTrace(w io.Writer, proto string) *Trace {
	t := &Trace{w: w}
	switch strings.ToLower(proto) {
	case "pop3", "pop":
		t.d = &pop3Dialect{}
	case "imap", "imap4", "imaps", "imap4rev1", "imap4rev2":
		t.d = &imapDialect{}
	default:
		t.d = unknownDialect{}
	}
	return t
}

// Client returns the tap for bytes the client sends. Write them to it before
// they are sent: the server's answer ends a SASL exchange, and a client
// response traced after that answer would no longer be redacted.
// Conn.SetTrace does this.
func (t *Trace) Client() io.Writer { return traceTap{t, fromClient} }

// Server returns the tap for bytes received from the server.
func (t *Trace) Server() io.Writer { return traceTap{t, fromServer} }

type traceTap struct {
	t *Trace
	s side
}

// Write never fails: a trace must not break the session it watches.
func (p traceTap) Write(b []byte) (int, error) {
	p.t.feed(p.s, b)
	return len(b), nil
}

type side int

const (
	fromClient side = iota
	fromServer
)

var sidePrefix = [2]string{"C: ", "S: "}

const (
	// traceShown is the most of a line the trace shows.
	traceShown = 200
	// traceTail is how much of a line's end is kept to find an IMAP
	// literal's "{N}" after a line longer than traceShown.
	traceTail = 32
	// tlsRecordHandshake is the first byte of a TLS ClientHello record; a
	// protocol line never starts with it.
	tlsRecordHandshake = 0x16
)

// lineState splits one side's bytes into lines and literals, keeping only
// a bounded head and tail of each line.
type lineState struct {
	head    []byte // the first traceShown+2 bytes of the current line
	tail    []byte // its last traceTail+2 bytes
	n       int64  // bytes of the current line so far
	literal int64  // literal bytes still to come before the line goes on
	litSize int64
}

// traceLine is a complete line as the dialects see it. Its slices are only
// valid during the call.
type traceLine struct {
	text []byte // the line without its ending, cut to traceShown bytes
	size int64  // the length of the line without its ending
	wire int64  // the length with its ending
	end  []byte // the last up to traceTail bytes of the line without its ending
}

func (l traceLine) truncated() bool { return l.size > int64(len(l.text)) }

func (s *lineState) add(seg []byte) {
	if room := traceShown + 2 - len(s.head); room > 0 {
		s.head = append(s.head, seg[:min(room, len(seg))]...)
	}
	const keep = traceTail + 2
	if len(seg) >= keep {
		s.tail = append(s.tail[:0], seg[len(seg)-keep:]...)
	} else {
		s.tail = append(s.tail, seg...)
		if len(s.tail) > keep {
			s.tail = s.tail[:copy(s.tail, s.tail[len(s.tail)-keep:])]
		}
	}
	s.n += int64(len(seg))
}

// finish ends the current line (its last byte is '\n') and resets the state.
func (s *lineState) finish() traceLine {
	endLen := 1
	if len(s.tail) >= 2 && s.tail[len(s.tail)-2] == '\r' {
		endLen = 2
	}
	l := traceLine{size: s.n - int64(endLen), wire: s.n}
	l.text = s.head[:min(int64(len(s.head)), l.size, traceShown)]
	l.end = s.tail[:len(s.tail)-endLen]
	if len(l.end) > traceTail {
		l.end = l.end[len(l.end)-traceTail:]
	}
	s.head, s.tail, s.n = s.head[:0], s.tail[:0], 0
	return l
}

// dialect is a protocol's knowledge of what to redact and where multi-line
// replies and literals are.
type dialect interface {
	// line handles a complete line and returns the size of a literal that
	// follows it, or -1.
	line(t *Trace, s side, l traceLine) int64
	// literal handles the end of a literal of n bytes.
	literal(t *Trace, s side, n int64)
}

func (t *Trace) feed(s side, p []byte) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.in[s]
	for len(p) > 0 && !t.opaque {
		if st.literal > 0 {
			k := min(int64(len(p)), st.literal)
			st.literal -= k
			p = p[k:]
			if st.literal == 0 {
				t.d.literal(t, s, st.litSize)
			}
			continue
		}
		if s == fromClient && st.n == 0 && p[0] == tlsRecordHandshake {
			// A library above the Conn started TLS on it (imapclient's own
			// STARTTLS does): what follows is ciphertext.
			t.opaque = true
			t.note("TLS started above the trace; the rest of the conversation is encrypted and not shown")
			return
		}
		seg := p
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			seg = p[:i+1]
		}
		st.add(seg)
		p = p[len(seg):]
		if i < 0 {
			continue
		}
		switch n := t.d.line(t, s, st.finish()); {
		case n == 0:
			t.d.literal(t, s, 0)
		case n > 0:
			st.literal, st.litSize = n, n
		}
	}
}

// say writes one output line made of parts that are safe to show as they
// are (constants, or text escaped by the caller).
func (t *Trace) say(s side, parts ...string) {
	t.out = append(t.out[:0], sidePrefix[s]...)
	for _, p := range parts {
		t.out = append(t.out, p...)
	}
	t.flush()
}

// show writes a line as it was, escaped and cut to traceShown bytes.
func (t *Trace) show(s side, l traceLine) {
	t.out = append(t.out[:0], sidePrefix[s]...)
	t.out = appendEscaped(t.out, l.text)
	if l.truncated() {
		t.out = append(t.out, " ... ["...)
		t.out = strconv.AppendInt(t.out, l.size, 10)
		t.out = append(t.out, " bytes]"...)
	}
	t.flush()
}

// sayBytes writes "<N bytes>" for data counted but not shown.
func (t *Trace) sayBytes(s side, n int64) {
	t.say(s, "<", strconv.FormatInt(n, 10), " bytes>")
}

func (t *Trace) note(msg string) {
	t.out = append(append(t.out[:0], "-- "...), msg...)
	t.flush()
}

func (t *Trace) flush() {
	t.out = append(t.out, '\n')
	t.w.Write(t.out) // a failing trace must not fail the session
}

const redacted = "<redacted>"

// appendEscaped appends b with control characters, invalid UTF-8 and other
// unprintable runes escaped, so a trace cannot garble or spoof a terminal.
// Backslashes stay as they are: IMAP flags (\Seen) read better that way.
func appendEscaped(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = append(dst, `\x`...)
			dst = append(dst, "0123456789abcdef"[b[0]>>4], "0123456789abcdef"[b[0]&15])
		case r == ' ' || unicode.IsPrint(r):
			dst = append(dst, b[:size]...)
		default:
			q := strconv.QuoteRuneToASCII(r)
			dst = append(dst, q[1:len(q)-1]...)
		}
		b = b[size:]
	}
	return dst
}

// Token helpers. Fields are separated by runs of spaces and tabs, which
// servers tolerate, so a stray tab cannot hide a command from redaction.

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func trimBlank(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

// cutField returns the first field of b and the rest after its blanks.
func cutField(b []byte) (field, rest []byte) {
	b = trimBlank(b)
	for i, c := range b {
		if isBlank(c) {
			return b[:i], trimBlank(b[i:])
		}
	}
	return b, nil
}

// word returns the leading ASCII letters of b, upper-cased: the command a
// server would read there.
func word(b []byte) string {
	i := 0
	for i < len(b) && ('a' <= b[i]|0x20 && b[i]|0x20 <= 'z') {
		i++
	}
	return strings.ToUpper(string(b[:i]))
}

// mechanism shows a SASL mechanism name if it looks like one (RFC 4422:
// up to 20 of A-Z 0-9 - _), else hides it.
func mechanism(b []byte) string {
	if len(b) == 0 || len(b) > 20 {
		return redacted
	}
	for _, c := range b {
		up := c &^ 0x20
		if !('A' <= up && up <= 'Z') && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return redacted
		}
	}
	return strings.ToUpper(string(b))
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// pop3Dialect knows POP3 (RFC 1939, 2449, 5034). Replies are matched to
// commands in order, which pipelining keeps: that is how it knows which
// replies are multi-line, and which reply ends an AUTH exchange.
type pop3Dialect struct {
	greeted   bool
	pending   []pop3Reply // replies the client waits for, oldest first
	inAuth    bool        // client lines are SASL responses
	multi     pop3Reply   // a multi-line reply in progress (pop3List, pop3Body)
	bodyBytes int64
}

type pop3Reply uint8

const (
	pop3Status pop3Reply = iota // a one-line reply
	pop3List                    // multi-line, shown: CAPA, LIST, UIDL
	pop3Body                    // multi-line, counted: RETR, TOP
	pop3Auth                    // AUTH with a mechanism: continuations until +OK/-ERR
)

// pop3Shown are the commands shown with their arguments, and the reply each
// gets without arguments. Any other command's arguments are redacted: a
// trace shows what it knows to be harmless, not what it knows to be secret.
var pop3Shown = map[string]pop3Reply{
	"USER": pop3Status, "STAT": pop3Status, "DELE": pop3Status, "NOOP": pop3Status,
	"RSET": pop3Status, "QUIT": pop3Status, "STLS": pop3Status, "UTF8": pop3Status,
	"LIST": pop3List, "UIDL": pop3List, "CAPA": pop3List, "LANG": pop3List,
	"RETR": pop3Body, "TOP": pop3Body,
}

func (d *pop3Dialect) line(t *Trace, s side, l traceLine) int64 {
	if s == fromClient {
		d.clientLine(t, l)
	} else {
		d.serverLine(t, l)
	}
	return -1
}

func (d *pop3Dialect) literal(*Trace, side, int64) {}

func (d *pop3Dialect) clientLine(t *Trace, l traceLine) {
	if d.inAuth {
		t.say(fromClient, redacted)
		return
	}
	text := trimBlank(l.text)
	cmd := word(text)
	after := text[len(cmd):]
	args := trimBlank(after)
	hasArgs := len(args) > 0 || l.truncated()
	if cmd == "" || (len(after) > 0 && !isBlank(after[0])) {
		// Not a command word followed by a blank: nothing to show safely.
		t.say(fromClient, redacted)
		d.pending = append(d.pending, pop3Status)
		return
	}
	reply, shown := pop3Shown[cmd]
	switch {
	case cmd == "AUTH" && hasArgs:
		mech, ir := cutField(args)
		if len(ir) > 0 || l.truncated() {
			t.say(fromClient, "AUTH ", mechanism(mech), " ", redacted)
		} else {
			t.say(fromClient, "AUTH ", mechanism(mech))
		}
		d.inAuth = true
		d.pending = append(d.pending, pop3Auth)
		return
	case cmd == "AUTH": // RFC 1734's list of mechanisms
		t.show(fromClient, l)
		reply = pop3List
	case shown:
		t.show(fromClient, l)
		if hasArgs && reply == pop3List {
			reply = pop3Status // LIST n, UIDL n: one line
		}
	case hasArgs || cmd == "PASS" || cmd == "APOP":
		// PASS, APOP and whatever else; a PASS without arguments is
		// redacted too, or the trace would tell an empty password.
		t.say(fromClient, cmd, " ", redacted)
	default:
		t.say(fromClient, cmd)
	}
	d.pending = append(d.pending, reply)
}

func (d *pop3Dialect) serverLine(t *Trace, l traceLine) {
	isDot := l.size == 1 && l.text[0] == '.'
	switch d.multi {
	case pop3Body:
		if isDot {
			t.sayBytes(fromServer, d.bodyBytes)
			t.say(fromServer, ".")
			d.multi = pop3Status
		} else {
			d.bodyBytes += l.wire
		}
		return
	case pop3List:
		t.show(fromServer, l)
		if isDot {
			d.multi = pop3Status
		}
		return
	}
	t.show(fromServer, l)
	if !d.greeted {
		// The first line is the greeting, even if the client spoke early:
		// counting it as a reply would end an AUTH exchange one reply too
		// soon and show a credential.
		d.greeted = true
		return
	}
	ok := hasPrefixFold(l.text, "+OK")
	if !ok && !hasPrefixFold(l.text, "-ERR") {
		return // a SASL continuation ("+ ...") or noise
	}
	var r pop3Reply
	if len(d.pending) > 0 {
		r = d.pending[0]
		d.pending = d.pending[1:]
	}
	switch {
	case r == pop3Auth:
		d.inAuth = false
	case ok && (r == pop3List || r == pop3Body):
		d.multi, d.bodyBytes = r, 0
	}
}

// imapDialect knows IMAP (RFC 3501, 9051) with literals, LITERAL+ and
// SASL-IR.
type imapDialect struct {
	cont      bool   // the client's command goes on after a literal
	redactCmd bool   // and it carries credentials (LOGIN)
	inAuth    bool   // client lines are SASL responses
	authTag   string // the AUTHENTICATE command's tag, whose reply ends it
}

func (d *imapDialect) line(t *Trace, s side, l traceLine) int64 {
	n := literalSize(l)
	if s == fromServer {
		t.show(fromServer, l)
		if d.inAuth {
			if tag, _ := cutField(l.text); string(tag) == d.authTag {
				d.inAuth = false
			}
		}
		return n
	}
	switch {
	case d.inAuth || (d.cont && d.redactCmd):
		t.say(fromClient, redacted)
	case d.cont:
		t.show(fromClient, l)
	default:
		tag, rest := cutField(l.text)
		cmd, args := cutField(rest)
		switch {
		case word(cmd) == "LOGIN":
			t.say(fromClient, string(appendEscaped(nil, tag)), " LOGIN ", redacted)
			d.redactCmd = true
		case word(cmd) == "AUTHENTICATE":
			mech, ir := cutField(args)
			if len(ir) > 0 || l.truncated() {
				t.say(fromClient, string(appendEscaped(nil, tag)), " AUTHENTICATE ", mechanism(mech), " ", redacted)
			} else {
				t.say(fromClient, string(appendEscaped(nil, tag)), " AUTHENTICATE ", mechanism(mech))
			}
			d.inAuth, d.authTag = true, string(tag)
		case word(tag) == "LOGIN" || word(tag) == "AUTHENTICATE":
			// A command without a tag: the server refuses it, but its
			// arguments may still be a password.
			t.say(fromClient, redacted)
			d.redactCmd = true
		default:
			t.show(fromClient, l)
		}
	}
	d.cont = n >= 0
	if !d.cont {
		d.redactCmd = false
	}
	return n
}

func (d *imapDialect) literal(t *Trace, s side, n int64) {
	if s == fromClient && (d.redactCmd || d.inAuth) {
		return
	}
	t.sayBytes(s, n)
}

// literalSize returns N when a line ends with an IMAP literal's "{N}"
// ("{N+}", "{N-}" for LITERAL+/LITERAL-, "~{N}" for literal8), else -1. A
// number too long to keep or to parse counts as endless: the trace then
// shows nothing more of that side rather than risk showing a literal as
// lines.
func literalSize(l traceLine) int64 {
	e := l.end
	i := len(e) - 1
	if i < 0 || e[i] != '}' {
		return -1
	}
	i--
	if i >= 0 && (e[i] == '+' || e[i] == '-') {
		i--
	}
	j := i
	for j >= 0 && '0' <= e[j] && e[j] <= '9' {
		j--
	}
	switch {
	case j == i:
		return -1 // no digits
	case j < 0:
		if l.size > int64(len(e)) {
			return math.MaxInt64 // digits run past what was kept
		}
		return -1
	case e[j] != '{':
		return -1
	}
	n, err := strconv.ParseInt(string(e[j+1:i+1]), 10, 64)
	if err != nil {
		return math.MaxInt64
	}
	return n
}

// unknownDialect is for a protocol the trace does not know: server lines
// are shown, client lines never.
type unknownDialect struct{}

func (unknownDialect) line(t *Trace, s side, l traceLine) int64 {
	if s == fromClient {
		t.say(fromClient, redacted)
	} else {
		t.show(fromServer, l)
	}
	return -1
}

func (unknownDialect) literal(*Trace, side, int64) {}
