package peerconf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WriteTOML writes the result as a mailfetch config.toml: a header that says
// where it comes from, the notes that belong to no account, then one
// [account.NAME] table per account with its notes as comments. Nothing in it
// is a secret of the peer's config.
func (r *Result) WriteTOML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := &printer{w: bw, peer: r.Peer}
	p.line("# mailfetch config.toml imported from the %s config %s", r.Peer, strings.Join(r.Files, ", "))
	p.line("# by `mailfetch import %s`. Review it, save it as ~/.config/mailfetch/config.toml", r.Peer)
	p.line("# (chmod 600), and check it with `mailfetch accounts --check`.")
	p.line("# \"# %s: OPTION VALUE (line N): ...\" comments name the options of the %s config", r.Peer, r.Peer)
	p.line("# that have no equivalent here, or that mailfetch treats differently.")
	if len(r.Global) > 0 {
		p.line("")
		for _, n := range r.Global {
			p.note(n)
		}
	}
	if len(r.Accounts) == 0 {
		p.line("")
		p.line("# No account was found.")
	}
	for _, a := range r.Accounts {
		p.line("")
		p.account(a)
	}
	if p.err != nil {
		return p.err
	}
	return bw.Flush()
}

type printer struct {
	w      *bufio.Writer
	peer   string
	prefix string // "# " while an account is written commented out
	err    error
}

func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	s := format
	if len(args) > 0 {
		s = fmt.Sprintf(format, args...)
	}
	if s != "" {
		s = p.prefix + s
	} else if p.prefix != "" {
		s = strings.TrimSpace(p.prefix)
	}
	_, p.err = p.w.WriteString(s + "\n")
}

// comment writes text as comment lines of at most about 78 columns.
func (p *printer) comment(text string) {
	for _, l := range wrap(oneLine(text), 76-len(p.prefix)) {
		p.line("# %s", l)
	}
}

func (p *printer) note(n Note) {
	head := n.Key
	switch {
	case n.Hidden:
		head += " (hidden)"
	case n.Raw:
		head += " " + oneLine(n.Value)
	case n.Value != "":
		head += " " + displayValue(n.Value)
	}
	if n.Line > 0 {
		head += fmt.Sprintf(" (line %d)", n.Line)
	}
	// The option's name stays on the first line, next to the peer's, so
	// that the comment can be found by it.
	width := 76 - len(p.prefix)
	first := p.peer + ": " + oneLine(n.Key)
	rest := strings.Fields(oneLine(strings.TrimPrefix(head, n.Key) + ": " + n.Text))
	cur := first
	for _, w := range rest {
		if len(cur)+1+len(w) > width && cur != first {
			p.line("# %s", cur)
			cur = w
			continue
		}
		cur += " " + w
	}
	p.line("# %s", cur)
}

func (p *printer) account(a *Account) {
	if a.Source != "" {
		p.comment("from " + a.Source)
	}
	if a.Disabled != "" {
		p.comment("NOT USABLE AS IT IS, so written commented out: " + a.Disabled)
		p.prefix = "# "
		defer func() { p.prefix = "" }()
	}
	p.line("[account.%s]", tomlKey(a.Name))
	str := func(key, v string) {
		if v == "" {
			return
		}
		p.keyNotes(a, key)
		p.line("%s = %s", key, tomlString(v))
	}
	num := func(key string, v int64) {
		if v == 0 {
			return
		}
		p.keyNotes(a, key)
		p.line("%s = %d", key, v)
	}
	boolean := func(key string, set, v bool) {
		if !set {
			return
		}
		p.keyNotes(a, key)
		p.line("%s = %t", key, v)
	}
	str("protocol", a.Protocol)
	str("host", a.Host)
	num("port", int64(a.Port))
	str("tls", a.TLS)
	str("ca-file", a.CAFile)
	str("fingerprint", a.Fingerprint)
	boolean("allow-plaintext", a.AllowPlaintext, true)
	str("user", a.User)
	str("auth", a.Auth)
	str("password-command", a.PasswordCommand)
	str("password-file", a.PasswordFile)
	if a.PasswordCommand == "" && a.PasswordFile == "" {
		if a.PasswordHint != "" {
			p.line("# password-command = %s  (%s)", tomlString("pass show mail/"+a.Name), oneLine(a.PasswordHint))
		} else {
			p.keyNotes(a, "password-command")
		}
	}
	str("maildir", a.Maildir)
	str("layout", a.Layout)
	str("mda", a.MDA)
	if a.Timeout > 0 {
		p.keyNotes(a, "timeout")
		p.line("timeout = %s", tomlString(a.Timeout.String()))
	}
	boolean("keep", a.Keep != nil, a.Keep != nil && *a.Keep)
	num("delete-after", int64(a.DeleteAfter))
	num("max-size", a.MaxSize)
	num("max-messages", int64(a.MaxMessages))
	if a.Folders != nil {
		p.keyNotes(a, "folders")
		q := make([]string, len(a.Folders))
		for i, f := range a.Folders {
			q[i] = tomlString(f)
		}
		p.line("folders = [%s]", strings.Join(q, ", "))
	}
	num("jobs", int64(a.Jobs))
	boolean("expunge-remote", a.ExpungeRemote, true)
	for _, n := range a.Notes {
		p.note(n)
	}
}

func (p *printer) keyNotes(a *Account, key string) {
	for _, t := range a.KeyNotes[key] {
		p.comment(t)
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError || r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey writes an account name as a TOML key: bare when it can be.
func tomlKey(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0 {
		return s
	}
	return tomlString(s)
}

// displayValue shows a value in a comment: as it is when it is one plain
// word, quoted otherwise, and never over several lines.
func displayValue(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) < 0 {
		return v
	}
	return strconv.Quote(v)
}

// oneLine replaces control characters, so that text cannot end a comment.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}

// wrap breaks text into lines of at most width bytes, at spaces; a word
// longer than width stays whole.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, w := range strings.Fields(text) {
		if cur.Len() > 0 && cur.Len()+1+len(w) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
