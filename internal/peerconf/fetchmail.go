package peerconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// fetchmail's run control file (fetchmail(1), THE RUN CONTROL FILE) is
// free-form: tokens separated by any white space, line ends included.
// Tokens are keywords, numbers, unquoted strings and strings in double or
// single quotes (which may span lines; "\" before a line end joins lines,
// and \n \t \b \r \\ \xhh \0ooo \nnn are escapes in every string). '#'
// where a token would start comments out the rest of the line. The noise
// words and, with, has, wants, options and the characters ',', ';', ':'
// are ignored. After user, pass, is, to and '=' the next token is a string
// even if it is spelt like a keyword.
//
// A file is a list of "set" statements and entries: "poll NAME" (or
// "server", or "skip" for one polled only when named, or "defaults" for
// settings later entries inherit), then server options, then users, each
// "user NAME" followed by user options. User options without a "user"
// describe one user of the default name.
//
// fetchmail (6.4) has no password command: a password is written in the
// file, read from ~/.netrc, or asked for. So an imported fetchmail account
// has at most the commented hint where its password was.

type fmTok struct {
	kind byte // 'k' keyword, 's' string, 'n' number, '=' map
	text string
	line int
}

// fmKeywords are the words fetchmail's lexer reads as keywords.
var fmKeywords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`set logfile idfile pidfile daemon syslog invisible showdots postmaster
		bouncemail spambounce softbounce warnings tracepolls defaults server poll skip via aka local localdomains
		proto protocol service port interval preauth preauthenticate auth authenticate any gssapi kerberos4
		kerberos_v4 kerberos5 kerberos_v5 kerberos ssh implicit external otp opie cram cram-md5 msn ntlm timeout
		idletimeout envelope qvirtual principal esmtpname esmtppassword bad-header accept reject user username
		pass password folder folders smtp smtphost fetchdomains smtpaddress smtpname antispam mda bsmtp lmtp pre
		preconnect post postconnect interface monitor plugin plugout batchlimit fetchlimit fetchsizelimit
		fastuidl expunge properties is here there to no keep flush limitflush fetchall rewrite forcecr stripcr
		pass8 pass8bits dropstatus dropdelivered mimedec mimedecode idle forceidle dns uidl ssl sslkey sslcert
		sslproto sslcertck sslcertfile sslcertpath sslcommonname sslfingerprint checkalias limit
		auto AUTO pop2 POP2 sdps SDPS pop3 POP3 imap IMAP apop APOP rpop RPOP etrn ETRN odmr ODMR kpop KPOP`) {
		fmKeywords[w] = true
	}
}

var fmNoise = map[string]bool{"with": true, "and": true, "has": true, "wants": true, "options": true}

// fmNoWords are the keywords that "no" may be glued to ("nokeep").
var fmNoWords = []string{"bouncemail", "uidl", "checkalias", "dns", "envelope", "keep", "flush", "limitflush",
	"fetchall", "rewrite", "forcecr", "stripcr", "pass8", "pass8bits", "dropstatus", "dropdelivered", "mimedec",
	"mimedecode", "spambounce", "idle", "forceidle"}

// fmLex splits the file into tokens.
func fmLex(file string, data []byte) ([]fmTok, error) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var toks []fmTok
	line := 1
	name := false // the next token is a string
	auth := false // the next "password" is an authentication type
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
			continue
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case c == ';' || c == ':' || c == ',':
			i++
			continue
		case c == '=':
			toks = append(toks, fmTok{'=', "=", line})
			name = true
			i++
			continue
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, lineError(file, line, "a string in %c quotes is not closed", c)
			}
			raw := s[i+1 : i+1+end]
			toks = append(toks, fmTok{'s', fmEscapes(raw), line})
			line += strings.Count(raw, "\n")
			i += end + 2
			name, auth = false, false
			continue
		}
		j := i
		for j < len(s) && !strings.ContainsRune("=;:, \t\r\n", rune(s[j])) {
			j++
		}
		word := s[i:j]
		i = j
		switch {
		case name:
			toks = append(toks, fmTok{'s', fmEscapes(word), line})
			name = false
			continue
		case auth && word == "password":
			toks = append(toks, fmTok{'k', "password-auth", line})
			auth = false
			continue
		case fmNoise[word]:
			continue
		case isFMNumber(word):
			toks = append(toks, fmTok{'n', word, line})
			continue
		}
		if rest, ok := strings.CutPrefix(word, "no"); ok && slices.Contains(fmNoWords, rest) {
			toks = append(toks, fmTok{'k', "no", line}, fmTok{'k', rest, line})
			continue
		}
		if !fmKeywords[word] {
			toks = append(toks, fmTok{'s', fmEscapes(word), line})
			continue
		}
		toks = append(toks, fmTok{'k', word, line})
		switch word {
		case "user", "username", "pass", "password", "is", "to":
			name = true
		case "auth", "authenticate", "preauth", "preauthenticate":
			auth = true
		}
	}
	return toks, nil
}

func isFMNumber(w string) bool {
	w = strings.TrimPrefix(w, "-")
	if w == "" {
		return false
	}
	for _, c := range w {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fmEscapes processes fetchmail's escapes (rcfile_l.l's escapes()).
func fmEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		c := s[i+1]
		switch {
		case c == 'x' || c == 'X':
			i += 2
			v, n := 0, 0
			for i < len(s) && n < 2 && strings.IndexByte("0123456789abcdefABCDEF", s[i]) >= 0 {
				d, _ := strconv.ParseUint(s[i:i+1], 16, 8)
				v = v*16 + int(d)
				i++
				n++
			}
			b.WriteByte(byte(v))
		case c == '0':
			i += 1
			v, n := 0, 0
			for i < len(s) && n < 3 && s[i] >= '0' && s[i] <= '7' {
				v = v*8 + int(s[i]-'0')
				i++
				n++
			}
			b.WriteByte(byte(v))
		case c >= '1' && c <= '9':
			i++
			v, n := 0, 0
			for i < len(s) && n < 3 && s[i] >= '0' && s[i] <= '9' {
				v = v*10 + int(s[i]-'0')
				i++
				n++
			}
			b.WriteByte(byte(v))
		default:
			i += 2
			switch c {
			case '\n':
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// fmOpt is one option of an entry or a user: its keyword, its arguments
// (for a "no X" option, X with args ["no"]), its line.
type fmOpt struct {
	key  string
	args []string
	line int
}

func (o fmOpt) value() string { return strings.Join(o.args, " ") }

// shown is the option as it is written: "no keep", "keep", "limit 1000".
func (o fmOpt) shown() (key, value string) {
	switch {
	case len(o.args) == 1 && o.args[0] == "no":
		if k, ok := strings.CutPrefix(o.key, "set "); ok {
			return "set no " + k, ""
		}
		return "no " + o.key, ""
	case len(o.args) == 1 && o.args[0] == "yes" && (fmFlag(fmUserArgs, o.key) || fmFlag(fmServerArgs, o.key) || strings.HasPrefix(o.key, "set ")):
		return o.key, ""
	}
	return o.key, o.value()
}

type fmOpts []fmOpt

func (os *fmOpts) set(o fmOpt) {
	*os = slices.DeleteFunc(*os, func(p fmOpt) bool { return p.key == o.key })
	*os = append(*os, o)
}

func (os fmOpts) get(key string) (fmOpt, bool) {
	for _, o := range os {
		if o.key == key {
			return o, true
		}
	}
	return fmOpt{}, false
}

type fmUser struct {
	implicit   bool // options without "user NAME" before them
	remote     string
	remoteLine int
	locals     []string
	wildcard   bool
	opts       fmOpts
	line       int
}

type fmEntry struct {
	verb   string // poll, skip or defaults
	name   string
	line   int
	server fmOpts
	users  []*fmUser
}

// fmServerArgs says what each server option takes: "" nothing, "s" a
// string, "n" a number, "l" a list of strings, "sn" a string or a number,
// "p" a protocol, "a" an authentication type, "e" [number] string.
var fmServerArgs = map[string]string{
	"via": "s", "aka": "l", "local": "l", "localdomains": "l", "proto": "p", "protocol": "p",
	"principal": "s", "esmtpname": "s", "esmtppassword": "s", "uidl": "", "checkalias": "", "service": "sn",
	"port": "n", "interval": "n", "auth": "a", "authenticate": "a", "preauth": "a", "preauthenticate": "a",
	"timeout": "n", "envelope": "e", "qvirtual": "s", "interface": "s", "monitor": "s", "plugin": "s",
	"plugout": "s", "dns": "", "tracepolls": "", "bad-header": "b",
}

// fmUserArgs is fmServerArgs for user options; "m" is a mapping list.
var fmUserArgs = map[string]string{
	"to": "m", "is": "m", "pass": "s", "password": "s", "folder": "l", "folders": "l", "smtp": "l",
	"smtphost": "l", "fetchdomains": "l", "smtpaddress": "s", "smtpname": "s", "antispam": "N", "mda": "s",
	"bsmtp": "s", "lmtp": "", "pre": "s", "preconnect": "s", "post": "s", "postconnect": "s", "keep": "",
	"flush": "", "limitflush": "", "fetchall": "", "rewrite": "", "forcecr": "", "stripcr": "", "pass8": "",
	"pass8bits": "", "dropstatus": "", "dropdelivered": "", "mimedec": "", "mimedecode": "", "idle": "",
	"forceidle": "", "ssl": "", "sslkey": "s", "sslcert": "s", "sslproto": "s", "sslcertck": "",
	"sslcertfile": "s", "sslcertpath": "s", "sslcommonname": "s", "sslfingerprint": "s", "limit": "n",
	"warnings": "n", "fetchlimit": "n", "fetchsizelimit": "n", "fastuidl": "n", "batchlimit": "n",
	"expunge": "n", "properties": "s", "idletimeout": "n",
}

// fmCanon gives the one name of a keyword that has several spellings.
var fmCanon = map[string]string{
	"local": "localdomains", "protocol": "proto", "port": "service", "authenticate": "auth",
	"preauth": "auth", "preauthenticate": "auth", "password": "pass", "folders": "folder", "smtp": "smtphost",
	"pre": "preconnect", "post": "postconnect", "pass8": "pass8bits", "mimedec": "mimedecode", "username": "user",
	"server": "poll",
}

// fmFlag reports whether key is an option without arguments in args.
func fmFlag(args map[string]string, key string) bool {
	kind, ok := args[key]
	return ok && kind == ""
}

func canonFM(k string) string {
	if c, ok := fmCanon[k]; ok {
		return c
	}
	return k
}

type fmParser struct {
	file string
	toks []fmTok
	i    int
}

func (p *fmParser) peek() (fmTok, bool) {
	if p.i >= len(p.toks) {
		return fmTok{}, false
	}
	return p.toks[p.i], true
}

func (p *fmParser) errAt(t fmTok, format string, args ...any) error {
	return lineError(p.file, t.line, format+" at %q", append(args, t.text)...)
}

func (p *fmParser) errEnd(format string, args ...any) error {
	line := 1
	if len(p.toks) > 0 {
		line = p.toks[len(p.toks)-1].line
	}
	return lineError(p.file, line, format+" at the end of the file", args...)
}

// arg reads one argument of the given kind.
func (p *fmParser) arg(kw fmTok, kind byte) (string, error) {
	t, ok := p.peek()
	if !ok {
		return "", p.errEnd("%s needs a value", kw.text)
	}
	switch {
	case kind == 's' && t.kind == 's', kind == 'n' && t.kind == 'n':
	case kind == 'v' && (t.kind == 's' || t.kind == 'n'):
	default:
		what := "a string"
		if kind == 'n' {
			what = "a number"
		}
		return "", p.errAt(t, "%s needs %s", kw.text, what)
	}
	p.i++
	return t.text, nil
}

// list reads one or more strings.
func (p *fmParser) list(kw fmTok) ([]string, error) {
	var out []string
	for {
		t, ok := p.peek()
		if !ok || t.kind != 's' {
			break
		}
		out = append(out, t.text)
		p.i++
	}
	if len(out) == 0 {
		t, ok := p.peek()
		if !ok {
			return nil, p.errEnd("%s needs a value", kw.text)
		}
		return nil, p.errAt(t, "%s needs a value", kw.text)
	}
	return out, nil
}

// option reads the arguments of a server or user option.
func (p *fmParser) option(kw fmTok, kind string, u *fmUser) (fmOpt, error) {
	o := fmOpt{key: canonFM(kw.text), line: kw.line}
	switch kind {
	case "":
		o.args = []string{"yes"}
	case "s", "n":
		v, err := p.arg(kw, kind[0])
		if err != nil {
			return o, err
		}
		o.args = []string{v}
	case "sn":
		v, err := p.arg(kw, 'v')
		if err != nil {
			return o, err
		}
		o.args = []string{v}
	case "l":
		l, err := p.list(kw)
		if err != nil {
			return o, err
		}
		o.args = l
	case "N":
		for {
			t, ok := p.peek()
			if !ok || t.kind != 'n' {
				break
			}
			o.args = append(o.args, t.text)
			p.i++
		}
		if len(o.args) == 0 {
			return o, p.errEnd("%s needs numbers", kw.text)
		}
	case "p":
		t, ok := p.peek()
		if !ok || t.kind != 'k' || !slices.Contains([]string{"auto", "pop2", "sdps", "pop3", "imap", "apop", "rpop", "etrn", "odmr", "kpop"}, strings.ToLower(t.text)) {
			if !ok {
				return o, p.errEnd("proto needs a protocol")
			}
			return o, p.errAt(t, "proto needs a protocol (pop3, imap, apop, ...)")
		}
		o.args = []string{strings.ToLower(t.text)}
		p.i++
	case "a":
		t, ok := p.peek()
		auths := []string{"any", "gssapi", "kerberos4", "kerberos_v4", "kerberos5", "kerberos_v5", "kerberos", "ssh",
			"implicit", "external", "otp", "opie", "cram", "cram-md5", "msn", "ntlm", "password-auth"}
		if !ok || t.kind != 'k' || !slices.Contains(auths, t.text) {
			if !ok {
				return o, p.errEnd("auth needs an authentication type")
			}
			return o, p.errAt(t, "auth needs an authentication type (any, password, cram-md5, ...)")
		}
		o.args = []string{strings.TrimSuffix(t.text, "-auth")}
		p.i++
	case "e":
		if t, ok := p.peek(); ok && t.kind == 'n' {
			o.args = append(o.args, t.text)
			p.i++
		}
		v, err := p.arg(kw, 's')
		if err != nil {
			return o, err
		}
		o.args = append(o.args, v)
	case "b":
		t, ok := p.peek()
		if !ok || t.kind != 'k' || t.text != "accept" && t.text != "reject" {
			if !ok {
				return o, p.errEnd("bad-header needs accept or reject")
			}
			return o, p.errAt(t, "bad-header needs accept or reject")
		}
		o.args = []string{t.text}
		p.i++
	case "m":
		// is/to: local names (a=b pairs allowed), then "here" or "there".
		var names []string
		for {
			t, ok := p.peek()
			if !ok || t.kind != 's' {
				break
			}
			p.i++
			n := t.text
			if nt, ok := p.peek(); ok && nt.kind == '=' {
				p.i++
				v, err := p.arg(nt, 's')
				if err != nil {
					return o, err
				}
				n += "=" + v
			}
			names = append(names, n)
		}
		if len(names) == 0 {
			t, ok := p.peek()
			if !ok {
				return o, p.errEnd("%s needs a name", kw.text)
			}
			return o, p.errAt(t, "%s needs a name", kw.text)
		}
		t, ok := p.peek()
		if ok && t.kind == 'k' && t.text == "there" && len(names) == 1 && kw.text == "is" {
			p.i++
			u.remote, u.remoteLine = names[0], kw.line
			o.args = names
			o.key = "is-there"
			return o, nil
		}
		if ok && t.kind == 'k' && t.text == "here" {
			p.i++
		}
		for _, n := range names {
			if n == "*" {
				u.wildcard = true
			} else {
				u.locals = append(u.locals, n)
			}
		}
		o.args = names
	}
	return o, nil
}

func (p *fmParser) parse() (globals []fmOpt, entries []*fmEntry, err error) {
	for {
		t, ok := p.peek()
		if !ok {
			return globals, entries, nil
		}
		p.i++
		switch {
		case t.kind == 'k' && t.text == "set":
			g, err := p.set(t)
			if err != nil {
				return nil, nil, err
			}
			globals = append(globals, g)
		case t.kind == 'k' && (t.text == "poll" || t.text == "server" || t.text == "skip" || t.text == "defaults"):
			e := &fmEntry{verb: canonFM(t.text), line: t.line}
			if e.verb != "defaults" {
				n, ok := p.peek()
				if !ok || n.kind != 's' {
					if !ok {
						return nil, nil, p.errEnd("%s needs a server name", t.text)
					}
					return nil, nil, p.errAt(n, "%s needs a server name (quote it if it is spelt like a keyword)", t.text)
				}
				e.name = n.text
				p.i++
			}
			if err := p.entry(e); err != nil {
				return nil, nil, err
			}
			entries = append(entries, e)
		default:
			return nil, nil, p.errAt(t, "syntax error: expected poll, skip, defaults or set")
		}
	}
}

func (p *fmParser) set(kw fmTok) (fmOpt, error) {
	t, ok := p.peek()
	if !ok {
		return fmOpt{}, p.errEnd("set needs an option")
	}
	p.i++
	o := fmOpt{key: "set " + t.text, line: kw.line}
	switch t.text {
	case "logfile", "idfile", "pidfile", "postmaster", "properties", "daemon":
		if n, ok := p.peek(); ok && n.kind == '=' {
			p.i++
		}
		kind := byte('s')
		if t.text == "daemon" {
			kind = 'n'
		}
		v, err := p.arg(t, kind)
		if err != nil {
			return o, err
		}
		o.args = []string{v}
	case "bouncemail", "spambounce", "softbounce", "syslog", "invisible", "showdots":
		o.args = []string{"yes"}
	case "no":
		n, ok := p.peek()
		if !ok || n.kind != 'k' {
			return o, p.errEnd("set no needs an option")
		}
		p.i++
		o.key, o.args = "set "+n.text, []string{"no"}
	default:
		return o, p.errAt(t, "set: unknown global option")
	}
	return o, nil
}

// entry reads the server options and users of a poll, skip or defaults.
func (p *fmParser) entry(e *fmEntry) error {
	var u *fmUser
	for {
		t, ok := p.peek()
		if !ok || t.kind == 'k' && slices.Contains([]string{"poll", "server", "skip", "defaults", "set"}, t.text) {
			return nil
		}
		p.i++
		neg := false
		if t.kind == 'k' && t.text == "no" {
			n, ok := p.peek()
			if !ok || n.kind != 'k' {
				if !ok {
					return p.errEnd("no needs an option")
				}
				return p.errAt(n, "no needs an option")
			}
			p.i++
			t, neg = n, true
		}
		if t.kind != 'k' {
			return p.errAt(t, "syntax error: expected an option")
		}
		if kind, ok := fmServerArgs[t.text]; ok {
			if u != nil {
				return p.errAt(t, "server option after user options")
			}
			if neg {
				kind = ""
			}
			o, err := p.option(t, kind, nil)
			if err != nil {
				return err
			}
			if neg {
				o.args = []string{"no"}
			}
			e.server.set(o)
			continue
		}
		if t.text == "user" || t.text == "username" {
			if u != nil && u.implicit {
				return p.errAt(t, "syntax error: user options without a user name come before a user description (write \"user NAME\" first)")
			}
			u = &fmUser{line: t.line}
			e.users = append(e.users, u)
			// user NAME [there], or user LOCAL... here.
			var names []string
			for {
				n, ok := p.peek()
				if !ok || n.kind != 's' {
					break
				}
				p.i++
				name := n.text
				if eq, ok := p.peek(); ok && eq.kind == '=' {
					p.i++
					v, err := p.arg(eq, 's')
					if err != nil {
						return err
					}
					name += "=" + v
				}
				names = append(names, name)
			}
			if len(names) == 0 {
				n, ok := p.peek()
				if !ok {
					return p.errEnd("user needs a name")
				}
				return p.errAt(n, "user needs a name")
			}
			if n, ok := p.peek(); ok && n.kind == 'k' && n.text == "here" {
				p.i++
				for _, name := range names {
					if name == "*" {
						u.wildcard = true
					} else {
						u.locals = append(u.locals, name)
					}
				}
				continue
			}
			if n, ok := p.peek(); ok && n.kind == 'k' && n.text == "there" {
				p.i++
			}
			if len(names) > 1 {
				return p.errAt(p.toks[p.i-1], "user: several names need \"here\"")
			}
			u.remote, u.remoteLine = names[0], t.line
			continue
		}
		kind, ok := fmUserArgs[t.text]
		if !ok {
			return p.errAt(t, "syntax error: %q is not an option here", t.text)
		}
		if u == nil {
			u = &fmUser{line: t.line, implicit: true}
			e.users = append(e.users, u)
		}
		if neg {
			kind = ""
		}
		o, err := p.option(t, kind, u)
		if err != nil {
			return err
		}
		if neg {
			o.args = []string{"no"}
		}
		u.opts.set(o)
	}
}

func importFetchmail(file string, data []byte, env Env) (*Result, error) {
	toks, err := fmLex(file, data)
	if err != nil {
		return nil, err
	}
	p := &fmParser{file: file, toks: toks}
	globals, entries, err := p.parse()
	if err != nil {
		return nil, err
	}
	res := &Result{Peer: "fetchmail", Files: []string{file}}
	for _, g := range globals {
		res.Global = append(res.Global, fmGlobalNote(g))
	}
	var defaults *fmEntry
	for _, e := range entries {
		if e.verb == "defaults" {
			defaults = e
			continue
		}
		users := e.users
		if len(users) == 0 {
			users = []*fmUser{{line: e.line}}
		}
		for _, u := range users {
			res.Accounts = append(res.Accounts, fmConvert(e, u, defaults, len(users) > 1, env))
		}
	}
	disableDuplicates(res.Accounts)
	uniqueNames(res.Accounts)
	return res, nil
}

func fmGlobalNote(g fmOpt) Note {
	k, v := g.shown()
	n := Note{Key: k, Value: v, Line: g.line}
	switch g.key {
	case "set daemon":
		n.Text = "no equivalent: run mailfetch from cron or a systemd timer"
	case "set idfile":
		n.Text = "mailfetch keeps the UIDLs it fetched in each account's state-dir"
	case "set logfile", "set syslog":
		n.Text = "mailfetch prints to standard error (--json for machine-readable output)"
	default:
		n.Text = "no equivalent in mailfetch"
	}
	return n
}

// fmConvert builds the account of one user of an entry, with the defaults
// entry's settings where the entry leaves them out.
func fmConvert(e *fmEntry, u *fmUser, defaults *fmEntry, several bool, env Env) *Account {
	server := slices.Clone(e.server)
	opts := slices.Clone(u.opts)
	remote, locals, wildcard := u.remote, u.locals, u.wildcard
	if defaults != nil {
		for _, o := range defaults.server {
			if _, ok := server.get(o.key); !ok {
				server = append(server, o)
			}
		}
		if len(defaults.users) > 0 {
			du := defaults.users[0]
			for _, o := range du.opts {
				if _, ok := opts.get(o.key); !ok {
					opts = append(opts, o)
				}
			}
			if remote == "" {
				remote = du.remote
			}
			if len(locals) == 0 {
				locals, wildcard = du.locals, du.wildcard
			}
		}
	}
	name := e.name
	if several && remote != "" {
		name += "-" + remote
	}
	a := &Account{Name: name, Source: fmt.Sprintf("poll %s (line %d)", e.name, e.line)}
	if e.verb == "skip" {
		a.Source = fmt.Sprintf("skip %s (line %d)", e.name, e.line)
		a.Disabled = "a skip entry, which fetchmail polls only when it is named on the command line"
	}
	note := func(o fmOpt, text string, attention bool) {
		k, v := o.shown()
		a.note(Note{Key: k, Value: v, Hidden: o.key == "pass" || secretKey(o.key), Line: o.line, Text: text, Attention: attention})
	}
	// The remote user: user NAME, is NAME there, or user LOCAL here (then
	// the same name), else the login name.
	switch {
	case remote != "":
	case len(locals) == 1 && !strings.Contains(locals[0], "="):
		remote = locals[0]
	default:
		remote = env.User
		if remote != "" {
			a.keyNote("user", "the fetchmail config names no remote user: fetchmail logs in with the name of the user running it")
		}
	}
	a.User = remote
	local := env.User
	if len(locals) > 0 && !strings.Contains(locals[0], "=") {
		local = locals[0]
	}
	if len(locals) > 1 || wildcard {
		names := slices.Clone(locals)
		if wildcard {
			names = append(names, "*")
		}
		mapLine := u.line
		for _, k := range []string{"is", "to"} {
			if o, ok := u.opts.get(k); ok {
				mapLine = o.line
			}
		}
		a.note(Note{Key: "is", Value: strings.Join(names, " "), Line: mapLine, Attention: true,
			Text: "a multidrop mailbox: fetchmail sorted the mail to several local users; mailfetch delivers all of it to this account's one destination"})
	}

	host := e.name
	port := 0
	proto := ""
	tls := ""
	sslproto := ""
	sslproNoTLS := false
	for _, o := range server {
		switch o.key {
		case "via":
			host = o.args[0]
		case "proto":
			proto = o.args[0]
		case "service":
			v := o.args[0]
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
				port = n
			} else if n, ok := map[string]int{"pop3": 110, "pop3s": 995, "imap": 143, "imap2": 143, "imaps": 993}[v]; ok {
				port = n
			} else {
				note(o, "not a port number or a known service name: the default port is used", true)
			}
		case "auth":
			fmAuth(a, o)
		case "timeout":
			if n, _ := strconv.Atoi(o.args[0]); n > 0 {
				a.Timeout = secondsDuration(n)
			} else {
				note(o, "mailfetch always has a timeout: its default, 60s, is used", false)
			}
		case "plugin":
			a.Disabled = fmt.Sprintf("fetchmail connects through a plugin command (line %d), which mailfetch cannot do", o.line)
			note(o, "no equivalent: mailfetch connects to host and port itself", true)
		case "uidl":
			note(o, "mailfetch always tracks POP3 messages by UIDL", false)
		case "esmtppassword":
			note(o, "no equivalent: mailfetch does not forward by SMTP", false)
		case "interval":
			note(o, "no equivalent: run mailfetch for this account less often from cron", false)
		case "dns", "checkalias", "envelope", "qvirtual", "aka", "localdomains":
			note(o, "a multidrop setting: mailfetch delivers everything to one destination", false)
		default:
			note(o, "no equivalent in mailfetch", false)
		}
	}
	a.Host = host
	for _, o := range opts {
		switch o.key {
		case "pass":
			a.plaintextHint("fetchmail", "password", o.line)
		case "ssl":
			if o.args[0] == "no" {
				tls = ""
			} else {
				tls = "implicit"
			}
		case "sslproto":
			sslproto = o.args[0]
			if sslproto == "" {
				sslproNoTLS = true
			} else {
				note(o, "mailfetch uses TLS 1.2 or later", false)
			}
		case "sslcertck":
			if o.args[0] == "no" {
				note(o, "mailfetch always checks the server certificate (against the system roots, ca-file or fingerprint)", true)
			} else {
				note(o, "the same in mailfetch: the certificate is always checked", false)
			}
		case "sslcertfile":
			f := o.args[0]
			if slices.Contains(systemBundles, f) {
				note(o, "the system's own CA bundle: mailfetch trusts the system roots without a ca-file", false)
				continue
			}
			a.CAFile = localPath(f, env)
			pathNote(a, o.key, a.CAFile, o.line)
		case "sslcertpath":
			note(o, "mailfetch takes one PEM file (ca-file), not a hashed directory: concatenate the certificates you trust into one file", true)
		case "sslfingerprint":
			a.setFingerprint(o.key, o.args[0], o.line)
		case "sslcommonname":
			note(o, "no equivalent: mailfetch checks the certificate against host, or pins it with fingerprint", true)
		case "sslkey", "sslcert":
			note(o, "no equivalent: mailfetch does not send client certificates", true)
		case "keep":
			k := o.args[0] != "no"
			a.Keep = &k
		case "fetchall":
			if o.args[0] != "no" {
				note(o, "with keep, fetchmail fetched every message each time; mailfetch fetches each message once (mailfetch pop3 --all fetches all again)", false)
			}
		case "flush", "limitflush":
			if o.args[0] != "no" {
				note(o, "no equivalent: mailfetch never deletes a message it did not fetch", true)
			}
		case "limit":
			if n, _ := strconv.ParseInt(o.args[0], 10, 64); n > 0 {
				a.MaxSize = n
			}
		case "fetchlimit":
			if n, _ := strconv.Atoi(o.args[0]); n > 0 {
				a.MaxMessages = n
			}
		case "folder":
			a.Folders = o.args
			a.keyNote("folders", fmt.Sprintf("folder (line %d)", o.line))
		case "mda":
			a.MDA = fmMDA(a, o, local)
		case "smtphost", "lmtp", "bsmtp":
			// Delivery: decided below.
		case "smtpaddress", "smtpname", "fetchdomains", "antispam":
			note(o, "no equivalent: mailfetch delivers into a Maildir or through an mda", false)
		case "preconnect", "postconnect":
			note(o, "no equivalent: run the command before or after mailfetch yourself", true)
		case "idle", "forceidle":
			note(o, "no equivalent: mailfetch fetches and exits; run it from cron or a timer", false)
		case "is", "to", "is-there":
		case "rewrite", "stripcr", "forcecr", "pass8bits", "dropstatus", "dropdelivered", "mimedecode":
			note(o, "no equivalent: mailfetch stores each message as the server sends it", false)
		default:
			note(o, "no equivalent in mailfetch", false)
		}
	}
	switch proto {
	case "pop3", "apop":
		a.Protocol = "pop3"
		if proto == "apop" {
			if a.Auth != "" && a.Auth != "auto" && a.Auth != "apop" {
				a.note(Note{Key: "proto", Value: "apop", Text: "APOP replaces the auth setting", Attention: true})
			}
			a.Auth = "apop"
		}
	case "imap":
		a.Protocol = "imap"
	case "", "auto":
		switch port {
		case 110, 995:
			a.Protocol = "pop3"
		case 143, 993:
			a.Protocol = "imap"
		default:
			a.Protocol = "pop3"
			if a.Disabled == "" {
				a.Disabled = "fetchmail probes for the protocol (no proto): write protocol = \"pop3\" or \"imap\""
			}
		}
		a.keyNote("protocol", "the fetchmail config names no protocol; this one is told by the port")
	default:
		a.Protocol = "pop3"
		if a.Disabled == "" {
			a.Disabled = fmt.Sprintf("mailfetch does not speak fetchmail's protocol %q", proto)
		}
	}
	if a.Protocol == "imap" {
		for _, k := range []string{"limit", "fetchlimit"} {
			if o, ok := opts.get(k); ok {
				note(o, "mailfetch's IMAP sync has no size or count limit", true)
			}
		}
		a.MaxSize, a.MaxMessages = 0, 0
		if a.Keep == nil || !*a.Keep {
			a.note(Note{Key: "keep", Value: "no", Attention: true,
				Text: "fetchmail deleted the IMAP messages it fetched; mailfetch's IMAP sync mirrors the folders and leaves the mail on the server"})
		}
		a.Keep = nil
		if a.Folders == nil {
			a.Folders = []string{"INBOX"}
			a.keyNote("folders", "fetchmail fetched INBOX only, into one destination")
		} else {
			a.keyNote("folders", "fetchmail fetched these into one destination; mailfetch keeps each folder as a folder of maildir")
		}
		folderSeparatorNote(a)
	} else {
		if a.Folders != nil {
			o, _ := opts.get("folder")
			note(o, "POP3 has no folders", false)
			a.Folders = nil
		}
		if a.Keep == nil {
			keep := false
			a.Keep = &keep
			a.keyNote("keep", "fetchmail's default, no keep, deletes the mail on the server once delivered")
		}
	}
	// TLS: ssl is implicit TLS; otherwise STARTTLS, which fetchmail 6.4
	// requires (sslcertck is the default), unless sslproto is empty.
	switch {
	case tls == "implicit":
		a.TLS = "implicit"
		if sslproNoTLS {
			a.note(Note{Key: "sslproto", Value: "''", Text: "with ssl, fetchmail ignored an empty sslproto"})
		}
	case sslproNoTLS:
		a.TLS = "none"
	default:
		a.TLS = "starttls"
		a.keyNote("tls", "fetchmail 6.4 upgrades with STARTTLS and checks the certificate (sslcertck is its default)")
	}
	if port == 0 {
		port = map[string]map[bool]int{"pop3": {true: 995, false: 110}, "imap": {true: 993, false: 143}}[a.Protocol][a.TLS == "implicit"]
	}
	a.Port = port
	if a.Auth == "" {
		a.Auth = "auto"
	}
	if a.TLS == "none" {
		for _, k := range []*string{&a.CAFile, &a.Fingerprint} {
			if *k != "" {
				a.note(Note{Key: "sslproto", Value: "''", Attention: true, Text: "ca-file and fingerprint have no effect without TLS: dropped " + *k})
				*k = ""
			}
		}
		if a.Auth != "cram-md5" && a.Auth != "apop" {
			a.AllowPlaintext = true
			a.keyNote("allow-plaintext", "the fetchmail config sent the password without TLS (sslproto '') when the server offered no better method")
		}
	}
	fmDelivery(a, opts, local, note)
	if a.User == "" && a.Disabled == "" {
		a.Disabled = "it has no user, and the login name is not known"
	}
	return a
}

// fmAuth maps fetchmail's authentication type.
func fmAuth(a *Account, o fmOpt) {
	switch o.args[0] {
	case "any":
		a.Auth = "auto"
	case "password":
		a.Auth = "auto"
		a.note(Note{Key: o.key, Value: o.args[0], Line: o.line,
			Text: "auto: mailfetch picks the strongest method the server offers that sends a password"})
	case "cram", "cram-md5":
		a.Auth = "cram-md5"
	default:
		a.Auth = "auto"
		a.note(Note{Key: o.key, Value: o.args[0], Line: o.line, Attention: true, Text: "mailfetch does not speak this method: auto is used"})
	}
}

// fmMDA converts fetchmail's mda: %T (and %s) become the local user; %F,
// the envelope sender, cannot be given.
func fmMDA(a *Account, o fmOpt, local string) string {
	cmd := o.args[0]
	user := shellQuote(local)
	if local == "" {
		user = `"$USER"`
	}
	for _, ph := range []string{"'%T'", "\"%T\"", "%T", "'%s'", "\"%s\"", "%s"} {
		cmd = strings.ReplaceAll(cmd, ph, user)
	}
	if cmd != o.args[0] {
		a.keyNote("mda", "%T, the local user, is written out")
	}
	mdaSenderNote(a, "mda", o.args[0], o.line, "%F")
	return cmd
}

// fmDelivery is fetchmail's delivery without an mda: SMTP to the local mail
// server, which delivers to the local user; sendmail gives the message to
// the same server. With an mda, fetchmail ignores smtphost, lmtp and bsmtp.
func fmDelivery(a *Account, opts fmOpts, local string, note func(fmOpt, string, bool)) {
	smtp, hasSMTP := opts.get("smtphost")
	lmtpOpt, lmtp := opts.get("lmtp")
	bsmtp, hasBSMTP := opts.get("bsmtp")
	if a.MDA != "" {
		for _, k := range []string{"smtphost", "lmtp", "bsmtp"} {
			if o, ok := opts.get(k); ok {
				note(o, "fetchmail used the mda instead", false)
			}
		}
		return
	}
	localSMTP := !hasSMTP || len(smtp.args) == 1 && slices.Contains([]string{"localhost", "127.0.0.1", "::1"}, smtp.args[0])
	if localSMTP && !lmtp && !hasBSMTP {
		user := shellQuote(local)
		if local == "" {
			user = `"$USER"`
		}
		a.MDA = "/usr/sbin/sendmail -oi -- " + user
		a.keyNote("mda", "fetchmail forwarded the mail by SMTP to the local mail server; sendmail hands it to the same server")
		if hasSMTP {
			note(smtp, "the local mail server: the mda sendmail reaches the same", false)
		}
		return
	}
	a.Maildir = "~/Mail/" + a.Name
	o, what := smtp, "an SMTP server elsewhere"
	switch {
	case hasBSMTP:
		o, what = bsmtp, "a BSMTP file"
	case lmtp:
		o, what = lmtpOpt, "an LMTP server"
	}
	note(o, "fetchmail delivered to "+what+"; mailfetch delivers into a Maildir or through an mda only: mail goes to the new Maildir "+a.Maildir+" until you change maildir", true)
}

// folderSeparatorNote reminds that folder patterns use "/" whatever the
// server's separator.
func folderSeparatorNote(a *Account) {
	for _, f := range a.Folders {
		if strings.Contains(f, ".") && !strings.Contains(f, "/") {
			a.keyNote("folders", "mailfetch writes the hierarchy with \"/\" whatever the server's separator: if "+f+" is a subfolder, write it with \"/\"")
			return
		}
	}
}
