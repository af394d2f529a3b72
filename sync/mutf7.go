package sync

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Mailbox names on the wire (RFC 3501 section 5.1.3, RFC 6855).
//
// Without UTF8=ACCEPT a server names mailboxes in modified UTF-7:
// printable ASCII stands for itself, "&-" for '&', and "&...-" holds
// base64 of UTF-16BE for everything else. go-imap decodes every name it
// reads with one strict decoder, and one name it refuses fails the whole
// response and the connection (LIBRARIES.md). decodeMUTF7 accepts exactly
// what that decoder accepts, so that the wire filter (wire.go) can tell in
// advance which names would kill the connection and hide them from it.

// mutf7Base64 is modified base64: ',' instead of '/', no padding.
var mutf7Base64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// decodeMUTF7 decodes a mailbox name in modified UTF-7 and reports
// whether go-imap v2 beta.8 accepts it (then the result is what it
// decodes). Raw UTF-8 is accepted as go-imap does; control characters
// (below 0x20, and DEL) are not, nor is a '&' without its '-', nor a
// base64 run that does not hold whole UTF-16 units, encodes printable
// ASCII, or follows another run with nothing between them.
func decodeMUTF7(name string) (string, bool) {
	if !utf8.ValidString(name) {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(name))
	afterRun := false // the last thing decoded was a base64 run
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			return "", false
		}
		if c != '&' {
			b.WriteByte(c)
			afterRun = false
			continue
		}
		end := strings.IndexByte(name[i+1:], '-')
		if end < 0 {
			return "", false // "&..." never shifts back
		}
		run := name[i+1 : i+1+end]
		i += 1 + end
		if strings.ContainsAny(run, "\r\n") {
			return "", false // base64 decoders skip them; go-imap refuses them
		}
		if run == "" {
			b.WriteByte('&')
			afterRun = false
			continue
		}
		if afterRun {
			return "", false // "&...-&...-" must be one run
		}
		s, ok := decodeMUTF7Run(run)
		if !ok {
			return "", false
		}
		b.WriteString(s)
		afterRun = true
	}
	return b.String(), true
}

// decodeMUTF7Run decodes the base64 between '&' and '-'.
func decodeMUTF7Run(run string) (string, bool) {
	if len(run)%4 == 1 {
		return "", false // not a whole number of bytes
	}
	raw, err := mutf7Base64.DecodeString(run)
	if err != nil || len(raw)%2 != 0 || len(raw) == 0 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(raw); i += 2 {
		r := rune(raw[i])<<8 | rune(raw[i+1])
		switch {
		case utf16.IsSurrogate(r):
			i += 2
			if i >= len(raw) {
				return "", false
			}
			r = utf16.DecodeRune(r, rune(raw[i])<<8|rune(raw[i+1]))
			if r == utf8.RuneError {
				return "", false
			}
		case r >= 0x20 && r <= 0x7e:
			return "", false // printable ASCII must stand for itself
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

// encodeMUTF7 encodes a UTF-8 name in modified UTF-7, the inverse of
// decodeMUTF7 (for names without invalid UTF-8).
func encodeMUTF7(name string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		raw := make([]byte, 0, 2*len(run))
		for _, u := range run {
			raw = append(raw, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(mutf7Base64.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			run = utf16.AppendRune(run, r)
		}
	}
	flush()
	return b.String()
}

// utf8NameOK reports whether go-imap accepts a name sent as raw UTF-8
// once UTF8=ACCEPT is enabled, after its '&' are escaped as "&-": valid
// UTF-8 without control characters (RFC 6855 section 3 forbids them in
// names too).
func utf8NameOK(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// escapeUTF8Name turns a raw UTF-8 name (UTF8=ACCEPT) into the form
// go-imap decodes back to it: every '&' becomes "&-", as its decoder
// reads '&' as the start of modified UTF-7 whatever the mode.
func escapeUTF8Name(name string) string {
	return strings.ReplaceAll(name, "&", "&-")
}

// displayName shows a name's raw bytes in messages, and is what a folder
// pattern spells to name a folder whose name does not decode: printable
// ASCII as it is, every other byte (and the backslash) as \xHH. Bytes, not
// runes: such a name may not be UTF-8 either.
func displayName(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789abcdef"
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// isAStringChar is go-imap's ASTRING-CHAR test, byte for byte: its
// control test converts the byte to a rune, so 0x80-0x9f (C1 controls as
// runes) end an atom as well.
func isAStringChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\':
		return false
	}
	return !unicode.IsControl(rune(c))
}

// isAtomChar is go-imap's ATOM-CHAR: ASTRING-CHAR without ']'.
func isAtomChar(c byte) bool { return c != ']' && isAStringChar(c) }
