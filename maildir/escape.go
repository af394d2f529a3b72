package maildir

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// EscapeFolderElem returns the on-disk form of one element of a folder
// path for the Maildir++ layout, where '.' separates the elements of a
// directory name (".Parent.Child"). It percent-escapes, as %XX with upper
// case hex: '.', '/', '%', control characters (U+0000–U+001F, U+007F) and
// bytes that are not valid UTF-8. Everything else, valid UTF-8 included, is
// kept as it is. UnescapeFolderElem reverses it exactly.
func EscapeFolderElem(s string) string {
	return escapeElem(s, func(i int, c byte) bool { return c == '.' })
}

// escapeFSElem is the on-disk form of one element for the fs layout, where
// each element is a directory of its own: '/', '%', controls and invalid
// UTF-8 are escaped as in EscapeFolderElem, dots only at the start (a hidden
// directory, "." and ".."), and a name that is "tmp", "new" or "cur" gets its
// first letter escaped (in any case) so that a folder never looks like a
// part of its parent Maildir.
func escapeFSElem(s string) string {
	// EqualFold: on a case-insensitive file system "Cur" is cur/.
	reserved := strings.EqualFold(s, "tmp") || strings.EqualFold(s, "new") || strings.EqualFold(s, "cur")
	return escapeElem(s, func(i int, c byte) bool {
		return i == 0 && (c == '.' || reserved)
	})
}

func escapeElem(s string, extra func(i int, c byte) bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size > 1 {
				b.WriteString(s[i : i+size])
				i += size
				continue
			}
		}
		if c < ' ' || c == 0x7f || c >= utf8.RuneSelf || c == '%' || c == '/' || extra(i, c) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		} else {
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}

// UnescapeFolderElem decodes an element escaped by EscapeFolderElem (or by
// the fs layout's escaping, which uses the same %XX form). It fails on a
// '%' that is not followed by two hex digits.
func UnescapeFolderElem(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("maildir: folder name %q: truncated %%-escape", s)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("maildir: folder name %q: bad %%-escape %q", s, s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
