package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Flags is a set of Maildir flags in canonical form: unique flag characters
// in ASCII order, as the "2," info of a file name carries them. The flags
// the spec defines are D (draft), F (flagged), P (passed), R (replied),
// S (seen) and T (trashed); others (Dovecot's keyword letters a–z, for
// instance) are kept as they are.
type Flags string

// The flags of the Maildir spec.
const (
	FlagDraft   byte = 'D'
	FlagFlagged byte = 'F'
	FlagPassed  byte = 'P'
	FlagReplied byte = 'R'
	FlagSeen    byte = 'S'
	FlagTrashed byte = 'T'
)

// validFlag reports whether c may stand in the flags of a file name. A
// printable ASCII character other than the ones that would break the name
// (',' starts an extension after the flags, ':' separates the info, '/'
// cannot be in a file name).
func validFlag(c byte) bool {
	return c > ' ' && c < 0x7f && c != ',' && c != ':' && c != '/'
}

// ParseFlags returns the canonical form of s: its flag characters sorted
// and deduplicated. Unknown letters are kept; characters that cannot appear
// in the flags of a file name (controls, space, non-ASCII, ',', ':', '/')
// are dropped.
func ParseFlags(s string) Flags {
	var set [128]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; validFlag(c) && !set[c] {
			set[c] = true
			n++
		}
	}
	b := make([]byte, 0, n)
	for c := range set {
		if set[c] {
			b = append(b, byte(c))
		}
	}
	return Flags(b)
}

// Has reports whether the flag c is set.
func (f Flags) Has(c byte) bool { return strings.IndexByte(string(f), c) >= 0 }

// With returns f with the flag c added. A character that cannot be a flag
// (see ParseFlags) leaves f unchanged.
func (f Flags) With(c byte) Flags {
	if f.Has(c) || !validFlag(c) {
		return ParseFlags(string(f))
	}
	return ParseFlags(string(f) + string(rune(c)))
}

// Without returns f with the flag c removed.
func (f Flags) Without(c byte) Flags {
	return ParseFlags(strings.ReplaceAll(string(f), string(rune(c)), ""))
}

// Name is a Maildir file name split into its parts:
// "<unique>:2,<flags>" in cur/, or just "<unique>" in new/.
type Name struct {
	// Unique is the part before the info separator; it identifies the
	// message for as long as it lives in the Maildir.
	Unique string
	// Info is the raw text after the separator, as read ("2,FS"). String
	// ignores it when it has the "2," form, whose flags come from Flags.
	Info string
	// Flags are the flags of a "2," info, canonical.
	Flags Flags
	// HasInfo reports that the name has an info part (files in cur/).
	HasInfo bool
}

// ParseName splits a Maildir file name (a base name, not a path). It is
// tolerant: ':' or, on file systems that forbid ':', '!' followed by "2,"
// separates the info; unknown flags are kept; an experimental info (not
// "2,...") is kept verbatim in Info. It fails only for names no Maildir
// holds: empty, hidden (a leading '.'), or containing '/' or NUL.
func ParseName(base string) (Name, error) {
	switch {
	case base == "":
		return Name{}, errors.New("maildir: empty file name")
	case base[0] == '.':
		return Name{}, fmt.Errorf("maildir: %q: hidden file, not a message", base)
	case strings.ContainsAny(base, "/\x00"):
		return Name{}, fmt.Errorf("maildir: %q: not a file name", base)
	}
	i := strings.IndexByte(base, ':')
	if i < 0 {
		// Maildir++ on file systems without ':' uses '!'. Only "!2," counts:
		// a lone '!' may be part of a unique name written by another tool.
		i = strings.LastIndex(base, "!2,")
	}
	if i < 0 {
		return Name{Unique: base}, nil
	}
	if i == 0 {
		return Name{}, fmt.Errorf("maildir: %q: empty unique name", base)
	}
	n := Name{Unique: base[:i], Info: base[i+1:], HasInfo: true}
	if flags, ok := strings.CutPrefix(n.Info, "2,"); ok {
		flags, _, _ = strings.Cut(flags, ",")
		n.Flags = ParseFlags(flags)
	}
	return n, nil
}

// String is the file name: the unique name, plus ":2," and the flags when
// HasInfo. The separator written is always ':'. Whatever followed the flags
// of a "2," info after a ',' (an extension of another tool) is kept.
func (n Name) String() string {
	if !n.HasInfo {
		return n.Unique
	}
	rest, ok := strings.CutPrefix(n.Info, "2,")
	if !ok && n.Info != "" && n.Flags == "" {
		return n.Unique + ":" + n.Info // experimental semantics, kept verbatim
	}
	tail := ""
	if ok {
		if i := strings.IndexByte(rest, ','); i >= 0 {
			tail = rest[i:]
		}
	}
	return n.Unique + ":2," + string(ParseFlags(string(n.Flags))) + tail
}

var (
	uniqueSeq  atomic.Uint64
	hostOnce   sync.Once
	hostEscape string
)

// escapedHost is this host's name as unique names carry it.
func escapedHost() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		hostEscape = escapeHost(h)
	})
	return hostEscape
}

// escapeHost writes '/' and ':' as \057 and \072, as the spec asks, and
// '!' (the info separator of Maildir++ on some file systems), '\\', ','
// (Maildir++ fields) and control characters the same way.
func escapeHost(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '/' || c == ':' || c == '!' || c == '\\' || c == ',' || c < ' ' || c == 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// NewUnique returns a new unique name,
// "<sec>.M<usec>P<pid>Q<n>R<random>.<host>", followed by the Maildir++ size
// field ",S=<size>" when size >= 0. Q counts deliveries within this
// process; R is 64 random bits, so that two processes with the same pid (a
// container, a restarted machine with the clock set back) cannot collide.
// The size field must be the exact file size: readers such as Dovecot
// trust it.
func NewUnique(size int64) string {
	now := time.Now()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	var b strings.Builder
	b.Grow(80)
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(".M")
	b.WriteString(strconv.Itoa(now.Nanosecond() / 1000))
	b.WriteByte('P')
	b.WriteString(strconv.Itoa(os.Getpid()))
	b.WriteByte('Q')
	b.WriteString(strconv.FormatUint(uniqueSeq.Add(1), 10))
	b.WriteByte('R')
	b.WriteString(hex.EncodeToString(rnd[:]))
	b.WriteByte('.')
	b.WriteString(escapedHost())
	if size >= 0 {
		b.WriteString(",S=")
		b.WriteString(strconv.FormatInt(size, 10))
	}
	return b.String()
}
