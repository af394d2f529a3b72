package maildir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EncodeField makes s one field of a space-separated journal record: '%'
// and every byte outside '!'..'~' become %XX (upper-case hex), and the
// empty string is spelt "%". Names that come from a server (a POP3 UIDL, an
// IMAP folder name) go through it, so that no server can forge or split a
// record.
func EncodeField(s string) string {
	if s == "" {
		return "%"
	}
	if plainField(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DecodeField reverses EncodeField. It accepts only what EncodeField
// produces, so that every value has exactly one spelling in a journal.
func DecodeField(f string) (string, error) {
	switch f {
	case "%":
		return "", nil
	case "":
		return "", errors.New("empty field")
	}
	if plainField(f) {
		return f, nil // the common case: nothing escaped
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '%':
			if i+2 >= len(f) {
				return "", errors.New("short escape")
			}
			hexs := f[i+1 : i+3]
			v, err := strconv.ParseUint(hexs, 16, 8)
			if err != nil || strings.ToUpper(hexs) != hexs {
				return "", fmt.Errorf("bad escape %q", f[i:i+3])
			}
			if e := byte(v); e > ' ' && e <= '~' && e != '%' {
				return "", fmt.Errorf("needless escape %q", f[i:i+3])
			}
			b.WriteByte(byte(v))
			i += 2
		case c <= ' ' || c > '~':
			return "", fmt.Errorf("byte %#x in field", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// plainField reports whether f is all bytes that EncodeField keeps as
// they are ('!' to '~' but '%').
func plainField(f string) bool {
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c > '~' || c == '%' {
			return false
		}
	}
	return true
}
