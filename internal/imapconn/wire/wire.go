// Package wire is the byte stream between an IMAP connection and go-imap
// v2's imapclient: a filter that fixes, in the stream, what go-imap v2
// beta.8 cannot take (mailbox names it would refuse, '&' in UTF-8 names,
// the greeting of another protocol), and that tells how a connection
// ended. See Filter. It knows nothing of mail, folders or the engine.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/mutf7"
)

// Filter sits between the transport connection and imapclient and fixes,
// in the byte stream, what go-imap v2 beta.8 cannot take:
//
//   - A mailbox name in a LIST, LSUB or STATUS response that go-imap's
//     decoder would refuse (not modified UTF-7; CR, LF or NUL; invalid
//     UTF-8) fails the whole response and the connection. Such a name is
//     replaced by a reserved placeholder that decodes, and the session maps
//     the placeholder back to the raw bytes (undecodable): the folder is
//     reported and never selected, and every other folder syncs.
//   - Once UTF8=ACCEPT is enabled, names are raw UTF-8, but go-imap still
//     reads '&' as the start of modified UTF-7: a name with '&' is passed
//     on with "&-" for each '&', which go-imap decodes back to the name.
//     The other way, go-imap sends '&' as "&-" in UTF-8 mode; in SELECT,
//     EXAMINE and STATUS it is turned back into '&' (and, where go-imap
//     sends UTF-8 because the server announced IMAP4rev2 without UTF-8
//     being enabled, the name is sent in modified UTF-7 as the server
//     then expects).
//   - The first line must be an IMAP greeting; a POP3 or SMTP server on
//     the port (a wrong port in the settings) is named as such
//     (failure.Protocol) instead of a go-imap message.
//
// Exactness: the filter follows go-imap's own tokenisation of responses
// (decoder.go of imapwire and the response readers of imapclient): status
// responses and continuation requests are text to the end of the line (a
// response code in brackets may span lines, as go-imap reads it); other
// untagged responses are tokens, where a quoted string may hold CR and LF
// and "{n}" CRLF is a literal of n bytes that is passed through untouched
// and never looked into. Whenever go-imap would accept a stream, the
// filter agrees with it on where every response, string and literal
// begins and ends, so it never rewrites a byte of a message body; where
// go-imap would refuse a stream, go-imap still fails on it. Memory is
// bounded: a line is held back only while its first tokens are
// classified, and a mailbox name only up to maxWireName bytes (a longer
// name counts as undecodable, its display cut short).
//
// The trace and the deadlines stay the transport's: the wire is above
// them, so the trace shows what the server really sent.
//
// It also keeps what a session needs to classify a failure: whether the
// transport failed (a cut, a timeout: temporary) or go-imap closed the
// connection on its own, which it does only when a response does not
// parse (failure.Protocol: a later run meets it again).
type Filter struct {
	conn net.Conn // the transport connection (or greetedConn above it)
	addr string

	// Server to client; used by go-imap's reader goroutine only.
	in           []byte
	inPos, inEnd int
	obuf         []byte // filtered bytes; obuf[opos:] not yet returned
	opos         int
	litLeft      int64 // literal bytes still to pass through untouched
	rerr         error // the connection's read error, returned once obuf is empty
	st           inState
	hold         []byte // the start of a line being classified
	lit          int64  // literal length being read
	atom1        int    // in hold: where the first atom after "* " starts
	name         nameToken

	utf8 atomic.Bool // UTF8=ACCEPT is enabled: names are raw UTF-8

	mu           sync.Mutex
	token        string
	placeholders map[string]string // placeholder -> raw name
	byRaw        map[string]string
	greetErr     error // the first line was not an IMAP greeting
	ioErr        error // the first error of the connection itself
	decodeFailed bool  // go-imap closed the connection on its own

	localClose atomic.Bool // the session closes or aborts the connection

	// Client to server.
	wmu     sync.Mutex
	outMode atomic.Int32
	ws      outState
	whold   []byte // the start of a command line
	wname   []byte // a mailbox argument as go-imap wrote it
	wraw    []byte // the same, unquoted
	wtail   []byte // the last bytes of the line
	wlit    int64  // literal bytes still to pass
}

type inState uint8

// The states are grouped as step dispatches them: keep each group
// together and in this order.
const (
	inGreeting  inState = iota // the first line, held until it is checked
	inLineStart                // the start of a response, held until classified
	inAfterType                // a status response after its type
	inAfterTypeSP
	inCode // [response code]: to ']', across lines as go-imap reads it
	inText // to the end of the line
	inData // tokens: quoted strings and literals tracked
	inQuoted
	inQuotedEsc
	inLitOpen // after '{'
	inLitDigits
	inLitClose // after '}'
	inLitSP
	inLitCR
	inListFlags // LIST/LSUB: "(" flags ")"
	inListFlagsOpen
	inListSP
	inListDelim
	inListDelimQ
	inListDelimQEsc
	inListDelimNIL
	inListDelimEnd
	inNameStart
	inNameQuoted
	inNameQuotedEsc
	inNameAtom
	inNameLitDigits
	inNameLitClose
	inNameLitSP
	inNameLitCR
	inNameLitBody
)

// maxWireName bounds a mailbox name held by the filter; names are a few
// hundred bytes at most on every server known.
const maxWireName = 16 << 10

// maxLineHead bounds what is held to classify a response.
const maxLineHead = 256

// nameToken is a mailbox name being read.
type nameToken struct {
	wire     []byte // as sent
	raw      []byte // as go-imap would decode the string
	overflow bool   // longer than maxWireName: not kept whole
	left     int64  // literal bytes still to read
	rawLen   int64
}

func New(conn net.Conn, addr string) *Filter {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Filter{conn: conn, addr: addr, in: make([]byte, 32<<10),
		token: hex.EncodeToString(b[:]), st: inGreeting}
}

// Read gives go-imap the server's bytes, filtered.
func (w *Filter) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if w.opos < len(w.obuf) {
			n := copy(p, w.obuf[w.opos:])
			w.opos += n
			if w.opos == len(w.obuf) {
				w.obuf, w.opos = w.obuf[:0], 0
			}
			return n, nil
		}
		if w.rerr != nil {
			return 0, w.rerr
		}
		if w.litLeft > 0 {
			// A literal (a message body): passed through as it is, read
			// straight into go-imap's buffer when nothing is buffered here.
			want := int(min(int64(len(p)), w.litLeft))
			if w.inPos < w.inEnd {
				n := copy(p[:want], w.in[w.inPos:w.inEnd])
				w.inPos += n
				w.litLeft -= int64(n)
				return n, nil
			}
			n, err := w.conn.Read(p[:want])
			w.litLeft -= int64(n)
			if err != nil {
				w.noteIOErr(err)
				w.rerr = err
			}
			if n > 0 || err == nil {
				return n, nil
			}
			return 0, err
		}
		if w.inPos == w.inEnd {
			n, err := w.conn.Read(w.in)
			w.inPos, w.inEnd = 0, n
			if err != nil {
				w.noteIOErr(err)
				w.rerr = err
				if n == 0 {
					// What was held back goes to go-imap as it is: it
					// fails on the cut line as it would have without us.
					w.flushHeld()
				}
			}
			continue
		}
		for w.inPos < w.inEnd && w.litLeft == 0 && len(w.obuf) < 16<<10 {
			c := w.in[w.inPos]
			w.inPos++
			w.step(c)
			if w.rerr != nil && w.greetErr != nil {
				return 0, w.rerr
			}
		}
	}
}

// flushHeld emits whatever is held back, unchanged.
func (w *Filter) flushHeld() {
	w.obuf = append(w.obuf, w.hold...)
	w.hold = w.hold[:0]
	w.obuf = append(w.obuf, w.name.wire...)
	w.name = nameToken{}
}

func (w *Filter) emit(c byte) { w.obuf = append(w.obuf, c) }

// step feeds one byte of the server's stream (never a byte of a
// pass-through literal) to the filter: the state says which part of a
// response the byte belongs to.
func (w *Filter) step(c byte) {
	switch {
	case w.st <= inText:
		w.stepLine(c)
	case w.st <= inLitCR:
		w.stepData(c)
	case w.st <= inListDelimEnd:
		w.stepList(c)
	case w.st <= inNameAtom:
		w.stepName(c)
	default:
		w.stepNameLiteral(c)
	}
}

// stepLine reads the greeting, the start of a response, and the text of
// status responses.
func (w *Filter) stepLine(c byte) {
	switch w.st {
	case inGreeting:
		w.greeting(c)
	case inLineStart:
		w.hold = append(w.hold, c)
		w.classify(c)
	case inAfterType:
		w.either(c, ' ', inAfterTypeSP, inText)
	case inAfterTypeSP:
		w.either(c, '[', inCode, inText)
	case inCode:
		w.emit(c)
		if c == ']' {
			w.st = inText
		}
	case inText:
		w.emit(c)
		if c == '\n' {
			w.st = inLineStart
		}
	}
}

// either passes c on and goes to next when it is want; else c is read
// again in state other.
func (w *Filter) either(c, want byte, next, other inState) {
	if c == want {
		w.emit(c)
		w.st = next
		return
	}
	w.st = other
	w.step(c)
}

// greeting holds the first line until it is known to be an IMAP greeting.
func (w *Filter) greeting(c byte) {
	w.hold = append(w.hold, c)
	if c != '\n' && len(w.hold) < 512 {
		return
	}
	if err := CheckGreeting(string(w.hold), w.addr); err != nil {
		w.mu.Lock()
		w.greetErr = err
		w.mu.Unlock()
		w.rerr = err // nothing more is read: a POP3 server waits for a command
		return
	}
	held := w.hold
	w.hold = nil
	w.st = inLineStart
	for _, b := range held {
		w.step(b)
	}
}

// stepData reads the tokens of a response: quoted strings, and literals,
// which Read then passes through untouched.
func (w *Filter) stepData(c byte) {
	switch w.st {
	case inData:
		w.emit(c)
		switch c {
		case '"':
			w.st = inQuoted
		case '{':
			w.st, w.lit = inLitOpen, 0
		case '\n':
			w.st = inLineStart
		}
	case inQuoted:
		w.emit(c)
		switch c {
		case '\\':
			w.st = inQuotedEsc
		case '"':
			w.st = inData
		}
	case inQuotedEsc:
		w.emit(c)
		w.st = inQuoted
	case inLitOpen, inLitDigits:
		w.literalDigit(c)
	default: // inLitClose, inLitSP, inLitCR
		w.literalEnd(c)
	}
}

// literalDigit reads the length of a literal.
func (w *Filter) literalDigit(c byte) {
	if c >= '0' && c <= '9' {
		w.emit(c)
		w.lit = addDigit(w.lit, c)
		w.st = inLitDigits
		return
	}
	if c == '}' && w.st == inLitDigits && w.lit >= 0 {
		w.emit(c)
		w.st = inLitClose
		return
	}
	// Not a literal: go-imap refuses this; tokens go on.
	w.st = inData
	w.step(c)
}

// literalEnd reads what follows a literal's "}": go-imap takes
// '}' [SP] [CR] LF.
func (w *Filter) literalEnd(c byte) {
	switch {
	case c == ' ' && w.st == inLitClose:
		w.emit(c)
		w.st = inLitSP
	case c == '\r' && w.st != inLitCR:
		w.emit(c)
		w.st = inLitCR
	case c == '\n':
		w.emit(c)
		w.st = inData
		w.litLeft = w.lit
	default:
		w.st = inData
		w.step(c)
	}
}

// stepList reads a LIST or LSUB response up to its mailbox name:
// "(" flags ")" SP delimiter SP.
func (w *Filter) stepList(c byte) {
	switch w.st {
	case inListFlagsOpen:
		w.expect(c, c == '(', inListFlags)
	case inListFlags:
		switch {
		case c == ')':
			w.emit(c)
			w.st = inListSP
		case c == ' ' || c == '\\' || c == '*' || isAtomChar(c):
			w.emit(c)
		default:
			w.bail(c)
		}
	case inListSP:
		w.expect(c, c == ' ', inListDelim)
	case inListDelim:
		switch c {
		case '"':
			w.emit(c)
			w.st = inListDelimQ
		case 'N':
			w.emit(c)
			w.st, w.lit = inListDelimNIL, 1
		default:
			w.bail(c)
		}
	case inListDelimQ:
		w.emit(c)
		switch c {
		case '\\':
			w.st = inListDelimQEsc
		case '"':
			w.st = inListDelimEnd
		}
	case inListDelimQEsc:
		w.emit(c)
		w.st = inListDelimQ
	case inListDelimNIL:
		w.delimNIL(c)
	case inListDelimEnd:
		w.expect(c, c == ' ', inNameStart)
	}
}

// expect passes c on and goes to next when ok, else gives up on the
// structure of the response.
func (w *Filter) expect(c byte, ok bool, next inState) {
	if !ok {
		w.bail(c)
		return
	}
	w.emit(c)
	w.st = next
}

// delimNIL reads the "IL" of a NIL delimiter.
func (w *Filter) delimNIL(c byte) {
	if (w.lit == 1 && c == 'I') || (w.lit == 2 && c == 'L') {
		w.emit(c)
		w.lit++
		if w.lit == 3 {
			w.st = inListDelimEnd
		}
		return
	}
	w.bail(c)
}

// stepName reads a mailbox name given as an atom or a quoted string, and
// the start of one given as a literal.
func (w *Filter) stepName(c byte) {
	switch w.st {
	case inNameStart:
		w.name = nameToken{}
		switch {
		case c == '"':
			w.name.wire = append(w.name.wire, c)
			w.st = inNameQuoted
		case c == '{':
			w.name.wire = append(w.name.wire, c)
			w.st, w.lit = inNameLitDigits, 0
		case isAStringChar(c):
			w.name.wire = append(w.name.wire, c)
			w.name.addRaw(c)
			w.st = inNameAtom
		default:
			w.bail(c)
		}
	case inNameQuoted:
		w.name.addWire(c)
		switch c {
		case '\\':
			w.st = inNameQuotedEsc
		case '"':
			w.finishName()
			w.st = inData
		default:
			w.name.addRaw(c)
		}
	case inNameQuotedEsc:
		w.name.addWire(c)
		w.name.addRaw(c)
		w.st = inNameQuoted
	case inNameAtom:
		if isAStringChar(c) {
			w.name.addWire(c)
			w.name.addRaw(c)
			return
		}
		w.finishName()
		w.st = inData
		w.step(c)
	}
}

// stepNameLiteral reads a mailbox name given as a literal: its length,
// then its bytes, which are held like those of any other name.
func (w *Filter) stepNameLiteral(c byte) {
	switch w.st {
	case inNameLitDigits:
		if c >= '0' && c <= '9' {
			w.name.addWire(c)
			w.lit = addDigit(w.lit, c)
			return
		}
		if c == '}' && len(w.name.wire) > 1 && w.lit >= 0 {
			w.name.addWire(c)
			w.st = inNameLitClose
			return
		}
		w.unname(c)
	case inNameLitClose, inNameLitSP, inNameLitCR:
		w.nameLiteralEnd(c)
	case inNameLitBody:
		w.name.addWire(c)
		w.name.addRaw(c)
		w.name.left--
		if w.name.left == 0 {
			w.finishName()
			w.st = inData
		}
	}
}

// nameLiteralEnd reads what follows the "}" of a name's literal.
func (w *Filter) nameLiteralEnd(c byte) {
	switch {
	case c == ' ' && w.st == inNameLitClose:
		w.name.addWire(c)
		w.st = inNameLitSP
	case c == '\r' && w.st != inNameLitCR:
		w.name.addWire(c)
		w.st = inNameLitCR
	case c == '\n':
		w.name.addWire(c)
		w.name.left = w.lit
		if w.lit == 0 {
			w.finishName()
			w.st = inData
			return
		}
		w.st = inNameLitBody
	default:
		w.unname(c)
	}
}

// addDigit appends a decimal digit to n; -1 once the number no longer
// fits an int64, where go-imap refuses the literal.
func addDigit(n int64, c byte) int64 {
	d := int64(c - '0')
	if n < 0 || n > (math.MaxInt64-d)/10 {
		return -1
	}
	return n*10 + d
}

// bail gives up on reading a LIST or STATUS response by its structure
// (go-imap will refuse it, or it is not what was expected): the line goes
// on as tokens, from c.
func (w *Filter) bail(c byte) {
	w.st = inData
	w.step(c)
}

// unname gives up on a name that turned out not to be a literal: what was
// held of it is passed on unchanged and the line goes on as tokens.
func (w *Filter) unname(c byte) {
	w.obuf = append(w.obuf, w.name.wire...)
	w.name = nameToken{}
	w.st = inData
	w.step(c)
}

func (n *nameToken) addWire(c byte) {
	if len(n.wire) < maxWireName+32 {
		n.wire = append(n.wire, c)
	} else {
		n.overflow = true
	}
}

func (n *nameToken) addRaw(c byte) {
	n.rawLen++
	if len(n.raw) < maxWireName {
		n.raw = append(n.raw, c)
	} else {
		n.overflow = true
	}
}

// classify reads the start of a response in hold (c was just added) and
// switches to the state that reads the rest, as go-imap's readResponse
// does: "+" is a continuation request (text); "*" SP atom [SP atom after
// a number] is untagged: a status type (OK, NO, BAD, BYE, PREAUTH) is
// text, LIST, LSUB and STATUS are read for their mailbox name, the rest
// are tokens; anything else is a tag, SP and a status type (text). The
// held bytes are emitted once the kind is known.
func (w *Filter) classify(c byte) {
	h := w.hold
	switch {
	case len(h) == 1:
		switch {
		case c == '+':
			w.release(inText, false)
		case c == '*', isAtomChar(c):
			// "*", or a tag: read on
		default:
			w.release(inData, true) // go-imap refuses it
		}
		return
	case h[0] != '*':
		w.classifyTagged(c)
		return
	case len(h) == 2:
		if c != ' ' {
			w.release(inData, true) // go-imap refuses it
			return
		}
		w.atom1 = 2
		return
	}
	if isAtomChar(c) && len(h) < maxLineHead {
		return
	}
	typ := string(h[w.atom1 : len(h)-1])
	if w.atom1 == 2 && c == ' ' && typ != "" && typ[0] >= '0' && typ[0] <= '9' {
		w.atom1 = len(h) // "* n TYPE": the type comes next
		return
	}
	w.classifyUntagged(strings.ToUpper(typ), c)
}

// classifyTagged reads a tag, SP, then the status type.
func (w *Filter) classifyTagged(c byte) {
	h := w.hold
	if isAtomChar(c) && len(h) < maxLineHead {
		return
	}
	if c == ' ' && strings.IndexByte(string(h[:len(h)-1]), ' ') < 0 {
		return // the end of the tag
	}
	w.release(inAfterType, true)
}

// classifyUntagged goes on by the type of an untagged response; c is the
// byte after the type.
func (w *Filter) classifyUntagged(typ string, c byte) {
	switch typ {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		w.release(inAfterType, true)
	case "LIST", "LSUB":
		if c != ' ' {
			w.release(inData, true)
			return
		}
		w.release(inListFlagsOpen, false)
	case "STATUS":
		if c != ' ' {
			w.release(inData, true)
			return
		}
		w.release(inNameStart, false)
	default:
		w.release(inData, true)
	}
}

// release emits the held start of a line and goes on in state st; with
// again, the last held byte is fed to st instead of being emitted.
func (w *Filter) release(st inState, again bool) {
	h := w.hold
	w.hold = w.hold[:0]
	w.st = st
	if !again {
		w.obuf = append(w.obuf, h...)
		return
	}
	last := h[len(h)-1]
	w.obuf = append(w.obuf, h[:len(h)-1]...)
	w.step(last)
}

// finishName passes a mailbox name on: unchanged when go-imap decodes it
// as it is, escaped when UTF-8 needs it, else as a placeholder.
func (w *Filter) finishName() {
	n := w.name
	w.name = nameToken{}
	raw := string(n.raw)
	switch {
	case n.overflow:
		raw += fmt.Sprintf("... (%d bytes)", n.rawLen)
	case strings.EqualFold(raw, "INBOX"):
		w.obuf = append(w.obuf, n.wire...)
		return
	case w.utf8.Load():
		if utf8NameOK(raw) {
			if strings.IndexByte(raw, '&') < 0 {
				w.obuf = append(w.obuf, n.wire...)
			} else {
				w.obuf = appendQuoted(w.obuf, escapeUTF8Name(raw))
			}
			return
		}
	default:
		if _, ok := mutf7.Decode(raw); ok {
			w.obuf = append(w.obuf, n.wire...)
			return
		}
	}
	w.obuf = appendQuoted(w.obuf, w.placeholder(raw))
}

// appendQuoted appends s as an IMAP quoted string (s has no CR, LF or
// NUL).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// placeholder returns the reserved name that stands for raw on this
// connection: the same raw name always gets the same one (a LIST-STATUS
// answer pairs STATUS with LIST by name). It is plain ASCII, so it
// decodes to itself, and holds a random token of the connection, so no
// real folder has it.
func (w *Filter) placeholder(raw string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.byRaw[raw]; ok {
		return p
	}
	if w.placeholders == nil {
		w.placeholders, w.byRaw = map[string]string{}, map[string]string{}
	}
	p := fmt.Sprintf("mailfetch-undecodable-%s-%d", w.token, len(w.placeholders)+1)
	w.placeholders[p] = raw
	w.byRaw[raw] = p
	return p
}

// Undecodable returns the raw name a placeholder stands for.
func (w *Filter) Undecodable(name string) (string, bool) {
	if !strings.HasPrefix(name, "mailfetch-undecodable-") {
		return "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	raw, ok := w.placeholders[name]
	return raw, ok
}

// CheckGreeting tells an IMAP greeting ("* OK", "* PREAUTH", "* BYE")
// from what other servers say first, and says what was expected.
func CheckGreeting(line, addr string) error {
	line = strings.TrimRight(line, "\r\n")
	up := strings.ToUpper(line)
	for _, ok := range []string{"* OK", "* PREAUTH", "* BYE"} {
		if up == ok || strings.HasPrefix(up, ok+" ") || strings.HasPrefix(up, ok+"[") {
			return nil
		}
	}
	return WrongProtocol(line, addr)
}

// WrongProtocol describes a server that greeted like another protocol.
func WrongProtocol(line, addr string) error {
	port := addr
	if _, p, err := net.SplitHostPort(addr); err == nil {
		port = p
	}
	shown := truncate(strings.ToValidUTF8(line, "?"), 80)
	var what string
	switch {
	case strings.HasPrefix(line, "+OK"), strings.HasPrefix(line, "-ERR"):
		what = "a POP3 server"
	case strings.HasPrefix(line, "220"):
		what = "an SMTP server"
	case strings.HasPrefix(line, "HTTP/"):
		what = "an HTTP server"
	}
	if what != "" {
		return failure.New(failure.Protocol, fmt.Sprintf("imap: port %s of %s answered like %s (%q); IMAP is 993 (implicit TLS) or 143 (STARTTLS)",
			port, hostOf(addr), what, shown))
	}
	return failure.New(failure.Protocol, fmt.Sprintf("imap: %s did not greet like an IMAP server (it sent %q); IMAP is 993 (implicit TLS) or 143 (STARTTLS)", addr, shown))
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func (w *Filter) noteIOErr(err error) {
	w.mu.Lock()
	if w.ioErr == nil {
		w.ioErr = err
	}
	w.mu.Unlock()
}

// SetUTF8 says whether UTF8=ACCEPT is enabled (RFC 6855): names are
// then raw UTF-8 on the wire.
func (w *Filter) SetUTF8(on bool) { w.utf8.Store(on) }

// Close closes the connection. go-imap closes it itself when a response
// does not parse (and when told to close): a close that neither the
// session asked for nor a failed read or write explains is such a parse
// failure.
func (w *Filter) Close() error {
	w.mu.Lock()
	if !w.localClose.Load() && w.ioErr == nil && w.greetErr == nil {
		w.decodeFailed = true
	}
	w.mu.Unlock()
	return w.conn.Close()
}

// Closing records that the session itself closes the connection: an
// error after it is not go-imap's doing.
func (w *Filter) Closing() { w.localClose.Store(true) }

// ProtocolError returns, for an error of go-imap, the Protocol failure
// it stands for: a greeting of another protocol, or a response go-imap
// could not parse. nil when the connection failed (temporary) or the
// session closed it.
func (w *Filter) ProtocolError(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.greetErr != nil {
		return w.greetErr
	}
	if w.decodeFailed {
		return failure.Wrap(failure.Protocol, fmt.Errorf("%w: the server's answer is not valid IMAP, and will not be the next time either", err))
	}
	return nil
}

// OutMode says how go-imap's encoding of a mailbox name is turned into
// what the server expects.
type OutMode int32

// The outbound modes.
const (
	OutPlain OutMode = iota // go-imap encodes as the server expects
	OutUTF8                 // UTF-8 enabled: "&-" back to '&'
	OutMUTF7                // go-imap sends UTF-8 (IMAP4rev2 announced), the server expects modified UTF-7
)

type outState uint8

const (
	outLineStart outState = iota // tag and command held until known
	outArg                       // after "SELECT ": the mailbox
	outName                      // inside the quoted mailbox
	outNameEsc
	outLine // the rest of the line: passed on, a final literal noted
	outLit  // a literal's bytes
)

// SetOutMode sets how mailbox names are rewritten; call it only between
// commands.
func (w *Filter) SetOutMode(m OutMode) {
	w.wmu.Lock()
	w.outMode.Store(int32(m))
	w.ws, w.whold = outLineStart, w.whold[:0]
	w.wmu.Unlock()
}

// Write sends go-imap's bytes, with the mailbox argument of SELECT,
// EXAMINE and STATUS rewritten as the outbound mode says. A command line
// goes out whole; go-imap waits for the server only after a line that
// ends with a literal's announcement.
func (w *Filter) Write(p []byte) (int, error) {
	if OutMode(w.outMode.Load()) == OutPlain {
		n, err := w.conn.Write(p)
		if err != nil {
			w.noteIOErr(err)
		}
		return n, err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	out := make([]byte, 0, len(p)+16)
	for _, c := range p {
		out = w.wstep(out, c)
	}
	if len(out) > 0 {
		if _, err := w.conn.Write(out); err != nil {
			w.noteIOErr(err)
			return 0, err
		}
	}
	return len(p), nil
}

// wstep feeds one byte of a command to the outbound rewriting. A client
// literal is "{" number ["+"] "}" CRLF at the end of a line (quoted
// strings hold no CR or LF), then that many bytes.
func (w *Filter) wstep(out []byte, c byte) []byte {
	switch w.ws {
	case outLineStart:
		return w.wcommand(out, c)
	case outArg:
		if c == '"' {
			w.wname = append(w.wname[:0], c)
			w.wraw = w.wraw[:0]
			w.ws = outName
			return out
		}
		w.ws = outLine
		return w.wstep(out, c)
	case outName, outNameEsc:
		return w.wmailbox(out, c)
	case outLine:
		return w.wline(out, c)
	case outLit:
		out = append(out, c)
		w.wlit--
		if w.wlit == 0 {
			w.ws = outLine
		}
		return out
	}
	return append(out, c)
}

// wcommand holds the tag and the command name until it is known whether
// a mailbox argument follows.
func (w *Filter) wcommand(out []byte, c byte) []byte {
	w.whold = append(w.whold, c)
	if c != ' ' && c != '\n' && len(w.whold) < maxLineHead {
		return out
	}
	fields := strings.Fields(string(w.whold))
	if c == ' ' && len(fields) == 1 {
		return out // the tag; the command follows
	}
	held := w.whold[:len(w.whold)-1]
	out = append(out, held...)
	w.wtail = append(w.wtail[:0], held[max(0, len(held)-24):]...)
	w.whold = w.whold[:0]
	if c == ' ' && len(fields) == 2 {
		switch strings.ToUpper(fields[1]) {
		case "SELECT", "EXAMINE", "STATUS":
			w.ws = outArg
			return append(out, c)
		}
	}
	w.ws = outLine
	return w.wstep(out, c)
}

// wmailbox reads the quoted mailbox argument and writes it as the server
// expects it.
func (w *Filter) wmailbox(out []byte, c byte) []byte {
	w.wname = append(w.wname, c)
	switch {
	case w.ws == outNameEsc:
		w.wraw = append(w.wraw, c)
		w.ws = outName
	case c == '\\':
		w.ws = outNameEsc
	case c == '"':
		out = appendQuoted(out, w.outName(string(w.wraw)))
		w.ws = outLine
	default:
		w.wraw = append(w.wraw, c)
	}
	if w.ws != outLine && len(w.wname) > maxWireName {
		out = append(out, w.wname...) // not a name of ours: as it is
		w.ws = outLine
	}
	return out
}

// wline passes the rest of a command line on, and notes a literal it
// announces at its end.
func (w *Filter) wline(out []byte, c byte) []byte {
	out = append(out, c)
	if c != '\n' {
		if len(w.wtail) < 24 {
			w.wtail = append(w.wtail, c)
		} else {
			w.wtail = append(w.wtail[1:], c)
		}
		return out
	}
	w.ws = outLineStart
	if n, ok := clientLiteral(w.wtail); ok && n > 0 {
		w.wlit = n
		w.ws = outLit
	}
	w.wtail = w.wtail[:0]
	return out
}

// clientLiteral reads the announcement "{n}" or "{n+}" (then CR) at the
// end of a command line.
func clientLiteral(tail []byte) (int64, bool) {
	t := strings.TrimSuffix(string(tail), "\r")
	t, ok := strings.CutSuffix(t, "}")
	if !ok {
		return 0, false
	}
	t = strings.TrimSuffix(t, "+")
	i := strings.LastIndexByte(t, '{')
	if i < 0 || i == len(t)-1 {
		return 0, false
	}
	var n int64
	for _, d := range []byte(t[i+1:]) {
		if d < '0' || d > '9' {
			return 0, false
		}
		if n = addDigit(n, d); n < 0 {
			return 0, false
		}
	}
	return n, true
}

// outName turns a name as go-imap encoded it (utf7.Escape: UTF-8 with
// '&' as "&-") into what the server expects.
func (w *Filter) outName(escaped string) string {
	name := strings.ReplaceAll(escaped, "&-", "&")
	if OutMode(w.outMode.Load()) == OutMUTF7 {
		return mutf7.Encode(name)
	}
	return name
}

// The rest of net.Conn goes to the connection.

func (w *Filter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *Filter) RemoteAddr() net.Addr { return w.conn.RemoteAddr() }

// SetDeadline and its kin are passed on: the transport turns imapclient's
// fixed timeouts into nothing and a past deadline into an abort.
func (w *Filter) SetDeadline(t time.Time) error      { return w.conn.SetDeadline(t) }
func (w *Filter) SetReadDeadline(t time.Time) error  { return w.conn.SetReadDeadline(t) }
func (w *Filter) SetWriteDeadline(t time.Time) error { return w.conn.SetWriteDeadline(t) }
