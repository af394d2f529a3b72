package pop3

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Error is a -ERR reply from the server.
type Error struct {
	// Command is the command refused, with its argument ("RETR 17"), or
	// just its name for commands that carry a secret ("PASS", "APOP",
	// "AUTH PLAIN"), or "greeting" when the server refused the connection.
	Command string
	// Code is the RFC 2449 extended response code in upper case, without
	// brackets ("IN-USE", "SYS/TEMP", "AUTH"), or "" when the reply had none.
	Code string
	// Text is the human-readable rest of the reply, with control characters
	// and invalid UTF-8 replaced by '?' so that it is safe to print.
	Text string
}

// Error formats the reply as "pop3: RETR 17: -ERR [SYS/TEMP] text".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	if e.Command != "" {
		b.WriteString(e.Command)
		b.WriteString(": ")
	}
	b.WriteString("-ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// IsTemporary reports whether err is a -ERR reply that a later attempt may
// not meet: the maildrop is locked by another session (IN-USE), the server
// enforces a delay between logins (LOGIN-DELAY), or the server has a
// temporary problem (SYS/TEMP).
func IsTemporary(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return hasCode(e.Code, "IN-USE") || hasCode(e.Code, "LOGIN-DELAY") || hasCode(e.Code, "SYS/TEMP")
}

// IsAuth reports whether err is a refused login: a -ERR with the AUTH
// response code (RFC 3206), or a -ERR without a SYS/ or temporary code to
// USER, PASS, APOP or AUTH. USER counts because RFC 1939 lets a server refuse
// an unknown mailbox there.
func IsAuth(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if hasCode(e.Code, "AUTH") {
		return true
	}
	if hasCode(e.Code, "SYS") || IsTemporary(e) {
		return false
	}
	return isAuthCommand(e.Command)
}

func isAuthCommand(cmd string) bool {
	name, _, _ := strings.Cut(cmd, " ")
	switch name {
	case "USER", "PASS", "APOP", "AUTH":
		return true
	}
	return false
}

// hasCode reports whether code is want or a sub-code of it (RFC 2449 §8:
// levels are separated by '/', so "SYS/TEMP/X" is a kind of "SYS/TEMP").
func hasCode(code, want string) bool {
	return code == want || strings.HasPrefix(code, want+"/")
}

// classify gives e the failure kind a caller acts on.
func classify(e *Error) error {
	switch {
	case IsTemporary(e):
		return failure.Wrap(failure.Temporary, e)
	case IsAuth(e):
		return failure.Wrap(failure.Auth, e)
	}
	return e
}

// status is a parsed +OK or -ERR line.
type status struct {
	ok   bool
	code string // -ERR only, upper case
	text string // raw bytes after the status word (and code)
}

// parseStatus parses a status line without its line ending. The status word
// is matched case-insensitively (some servers send "+ok"), but the structure
// is strict: the word must be followed by a space or the end of the line.
func parseStatus(line []byte) (status, error) {
	word, rest, _ := bytes.Cut(line, []byte(" "))
	var st status
	switch {
	case bytes.EqualFold(word, []byte("+OK")):
		st.ok = true
	case bytes.EqualFold(word, []byte("-ERR")):
	default:
		return status{}, protoErrorf("not a status line: %s", quote(line))
	}
	if !st.ok {
		st.code, rest = parseRespCode(rest)
	}
	st.text = string(rest)
	return st, nil
}

// parseRespCode splits an RFC 2449 response code off the front of a -ERR
// reply's text: resp-code = "[" resp-level *("/" resp-level) "]",
// resp-level = 1*(ALPHA / DIGIT / "-"). Text that merely starts with "[" is
// left alone.
func parseRespCode(text []byte) (code string, rest []byte) {
	if len(text) == 0 || text[0] != '[' {
		return "", text
	}
	end := bytes.IndexByte(text, ']')
	if end < 0 {
		return "", text
	}
	inner := text[1:end]
	for _, level := range bytes.Split(inner, []byte("/")) {
		if len(level) == 0 {
			return "", text
		}
		for _, c := range level {
			if !isAlnum(c) && c != '-' {
				return "", text
			}
		}
	}
	rest = text[end+1:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return strings.ToUpper(string(inner)), rest
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// asError turns a -ERR status into a classified *Error for the command shown.
func (st status) asError(shown string) error {
	return classify(&Error{Command: shown, Code: st.code, Text: sanitize(st.text)})
}

// sanitize makes server text safe to print on a terminal: control
// characters (escape sequences!) and invalid UTF-8 become '?'.
func sanitize(s string) string {
	unsafe := func(r rune) bool { return isControl(r) || r == utf8.RuneError }
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafe(r) {
			return '?'
		}
		return r
	}, s)
}

// isControl reports C0 and C1 control characters, DEL included: never to be
// printed from a server's reply.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// quote renders a server line for an error message: sanitised and cut to a
// length that keeps the message readable.
func quote(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// protoError is a reply that breaks the protocol: after it the session is
// out of step and must not be reused.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }

func protoErrorf(format string, args ...any) error {
	return &protoError{msg: fmt.Sprintf(format, args...)}
}
