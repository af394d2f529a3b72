// Package mutf7 encodes and decodes IMAP mailbox names in modified UTF-7
// (RFC 3501 section 5.1.3): printable ASCII stands for itself, "&-" for
// '&', and "&...-" holds base64 of UTF-16BE for everything else, with ','
// instead of '/' and no padding.
//
// Decode is strict: it accepts exactly the names go-imap v2 beta.8's
// decoder accepts (see Decode), so that a caller can tell in advance
// which names would make go-imap fail a whole response. Encode is its
// inverse, and what Dovecot writes (internal/dovetest checks the two
// against each other).
package mutf7

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// b64 is modified base64: ',' instead of '/', no padding.
var b64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// Decode decodes a mailbox name in modified UTF-7 and reports whether
// go-imap v2 beta.8 accepts it (then the result is what it decodes). Raw
// UTF-8 is accepted as go-imap does; control characters (below 0x20, and
// DEL) are not, nor is a '&' without its '-', nor a base64 run that does
// not hold whole UTF-16 units, encodes printable ASCII, or follows
// another run with nothing between them.
func Decode(name string) (string, bool) {
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
		s, ok := decodeRun(run)
		if !ok {
			return "", false
		}
		b.WriteString(s)
		afterRun = true
	}
	return b.String(), true
}

// decodeRun decodes the base64 between '&' and '-'.
func decodeRun(run string) (string, bool) {
	if len(run)%4 == 1 {
		return "", false // not a whole number of bytes
	}
	raw, err := b64.DecodeString(run)
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

// Encode encodes a UTF-8 name in modified UTF-7, the inverse of Decode
// (for names without invalid UTF-8).
func Encode(name string) string {
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
		b.WriteString(b64.EncodeToString(raw))
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
