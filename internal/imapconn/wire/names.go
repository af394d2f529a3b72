package wire

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

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

// DisplayName shows a name's raw bytes in messages, and is what a folder
// pattern spells to name a folder whose name does not decode: printable
// ASCII as it is, every other byte (and the backslash) as \xHH. Bytes, not
// runes: such a name may not be UTF-8 either.
func DisplayName(raw string) string {
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
