package peerconf

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// mbsync's config (isync 1.4 and 1.5, mbsync(1)): lines of a keyword and
// arguments, arguments with spaces in double quotes, '\' escaping the next
// character, '#' starting a comment where a word would start. Keywords are
// case-insensitive. Sections start with IMAPAccount, IMAPStore,
// MaildirStore, Channel or Group and end at an empty line; a comment line
// does not end them. Stores and accounts must be defined before they are
// referenced.

// mbLine is one line of an mbsync config split into words.
type mbLine struct {
	n    int
	cmd  string // the keyword as written
	args []string
}

func (l mbLine) key() string { return strings.ToLower(l.cmd) }

// val is the first argument.
func (l mbLine) val() string { return l.args[0] }

// joined is every argument, space-separated and quoted as mbsync quotes
// them, for a comment.
func (l mbLine) joined() string {
	q := make([]string, len(l.args))
	for i, a := range l.args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\"#") {
			q[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
	}
	return strings.Join(q, " ")
}

// mbWords splits a line as mbsync's get_arg does. A nil slice is an empty
// line; comment is true for a line that only holds a comment.
func mbWords(file string, n int, line string) (words []string, comment bool, err error) {
	p := line
	for {
		i := 0
		for i < len(p) && isMBSpace(p[i]) {
			i++
		}
		p = p[i:]
		if p == "" || p[0] == '#' {
			return words, words == nil && p != "", nil
		}
		var w strings.Builder
		escaped, quoted := false, false
		j := 0
		for ; j < len(p); j++ {
			c := p[j]
			switch {
			case escaped && c >= 32:
				escaped = false
				w.WriteByte(c)
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = !quoted
			case !quoted && isMBSpace(c):
				goto end
			default:
				w.WriteByte(c)
			}
		}
	end:
		if escaped {
			return nil, false, lineError(file, n, "unterminated escape sequence")
		}
		if quoted {
			return nil, false, lineError(file, n, "missing closing quote")
		}
		words = append(words, w.String())
		p = p[j:]
	}
}

func isMBSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// mbMulti are the keywords that take several arguments.
var mbMulti = map[string]bool{
	"patterns": true, "pattern": true, "authmechs": true, "authmech": true, "sync": true,
	"create": true, "remove": true, "expunge": true, "disableextension": true, "disableextensions": true,
	"sslversions": true, "sslversion": true, "tlsversions": true, "tlsversion": true,
	"channel": true, "channels": true, "group": true,
}

// mbServer is an IMAPAccount, or the account options written inline in an
// IMAPStore.
type mbServer struct {
	name        string
	line        int
	host        string
	hostLine    int
	implicitURL bool // Host imaps:...
	port        int
	user        string
	userCmd     *mbLine
	pass        *mbLine
	passCmd     *mbLine
	tlsType     *mbLine
	useIMAPS    *bool
	requireSSL  *bool
	requireCRAM bool
	certFile    *mbLine
	systemCerts *mbLine
	authMechs   *mbLine
	tunnel      *mbLine
	timeout     *mbLine
	notes       []Note
	set         bool // an option was given (for an inline store)
}

type mbStore struct {
	name       string
	line       int
	imap       bool
	server     *mbServer // imap: its account, or inline
	account    *mbLine   // imap: the Account line
	imapPath   *mbLine
	path       *mbLine // maildir
	inbox      *mbLine
	subFolders *mbLine
	flatten    *mbLine
	notes      []Note
	used       bool
}

type mbChannel struct {
	name      string
	line      int
	far, near *mbStore
	farBox    string
	nearBox   string
	patterns  []string
	patLine   int
	sync      *mbLine
	expunge   *mbLine
	create    *mbLine
	remove    *mbLine
	notes     []Note
	inGroups  []string
}

type mbsyncImport struct {
	file     string
	servers  []*mbServer
	stores   []*mbStore
	channels []*mbChannel
	global   struct{ sync, expunge, create, remove *mbLine }
	res      *Result
}

// importMBSync reads an mbsync config.
func importMBSync(file string, data []byte, env Env) (*Result, error) {
	m := &mbsyncImport{file: file, res: &Result{Peer: "mbsync", Files: []string{file}}}
	var lines []*mbLine // nil entries are empty lines
	for i, raw := range splitLines(data) {
		w, comment, err := mbWords(file, i+1, raw)
		if err != nil {
			return nil, err
		}
		if comment {
			continue
		}
		if w == nil {
			lines = append(lines, nil)
			continue
		}
		l := &mbLine{n: i + 1, cmd: w[0], args: w[1:]}
		if len(l.args) == 0 {
			return nil, lineError(file, l.n, "%s: parameter missing", l.cmd)
		}
		if len(l.args) > 1 && !mbMulti[l.key()] {
			return nil, lineError(file, l.n, "%s: excess token %q (quote a value that has spaces)", l.cmd, l.args[1])
		}
		lines = append(lines, l)
	}
	for i := 0; i < len(lines); {
		l := lines[i]
		if l == nil {
			i++
			continue
		}
		j := i + 1
		for j < len(lines) && lines[j] != nil {
			j++
		}
		var err error
		switch l.key() {
		case "imapaccount":
			err = m.imapAccount(l, lines[i+1:j])
		case "imapstore":
			err = m.imapStore(l, lines[i+1:j])
		case "maildirstore":
			err = m.maildirStore(l, lines[i+1:j])
		case "channel":
			err = m.channel(l, lines[i+1:j])
		case "group":
			m.group(l, lines[i+1:j])
		default:
			// Global options stand alone; a global option directly above
			// a section is not possible (sections start at their keyword).
			m.globalOption(l)
			j = i + 1
		}
		if err != nil {
			return nil, err
		}
		i = j
	}
	m.accounts(env)
	return m.res, nil
}

func (m *mbsyncImport) globalOption(l *mbLine) {
	switch l.key() {
	case "sync":
		m.global.sync = l
	case "expunge":
		m.global.expunge = l
	case "create":
		m.global.create = l
	case "remove":
		m.global.remove = l
	case "fsync":
		m.res.Global = append(m.res.Global, Note{Key: l.cmd, Value: l.joined(), Raw: true, Line: l.n, Text: "mailfetch always fsyncs each message, its directory and its state before telling the server"})
	default:
		m.res.Global = append(m.res.Global, m.unmapped(l, mbGlobalText[l.key()]))
	}
}

var mbGlobalText = map[string]string{
	"fielddelimiter":  "no equivalent: mailfetch's state does not live in file names",
	"bufferlimit":     "no equivalent: mailfetch streams each message through a fixed buffer",
	"syncstate":       "no equivalent: mailfetch keeps its state in each account's state-dir",
	"maxmessages":     "no equivalent: mailfetch keeps every message",
	"expireunread":    "no equivalent: mailfetch keeps every message",
	"copyarrivaldate": "mailfetch sets each file's time from the server's INTERNALDATE",
}

// unmapped is the note for an option without an equivalent.
func (m *mbsyncImport) unmapped(l *mbLine, text string) Note {
	if text == "" {
		text = "no equivalent in mailfetch"
	}
	return Note{Key: l.cmd, Value: l.joined(), Raw: true, Hidden: secretKey(l.cmd), Line: l.n, Text: text}
}

func (m *mbsyncImport) imapAccount(head *mbLine, body []*mbLine) error {
	s := &mbServer{name: head.val(), line: head.n}
	for _, l := range body {
		if !m.serverOption(s, l) {
			s.notes = append(s.notes, m.unmapped(l, "not an IMAPAccount option this import knows: check it by hand"))
		}
	}
	m.servers = append(m.servers, s)
	return nil
}

func (m *mbsyncImport) imapStore(head *mbLine, body []*mbLine) error {
	st := &mbStore{name: head.val(), line: head.n, imap: true}
	inline := &mbServer{name: head.val(), line: head.n}
	for _, l := range body {
		switch l.key() {
		case "account":
			i := slices.IndexFunc(m.servers, func(s *mbServer) bool { return s.name == l.val() })
			if i < 0 {
				return lineError(m.file, l.n, "unknown IMAP account %q (an IMAPAccount must come before the IMAPStore that uses it)", l.val())
			}
			st.server, st.account = m.servers[i], l
		case "path":
			st.imapPath = l
		case "usenamespace", "subscribedonly", "pathdelimiter":
			st.notes = append(st.notes, m.unmapped(l, mbStoreText[l.key()]))
		default:
			if m.serverOption(inline, l) {
				inline.set = true
				continue
			}
			st.notes = append(st.notes, m.storeOption(l))
		}
	}
	if st.server == nil {
		st.server = inline
	} else if inline.set {
		st.notes = append(st.notes, Note{Key: "Account", Value: st.account.val(), Line: st.account.n, Attention: true,
			Text: "the IMAPStore also sets account options of its own; the IMAPAccount's are used"})
	}
	m.stores = append(m.stores, st)
	return nil
}

var mbStoreText = map[string]string{
	"usenamespace":   "no equivalent: mailfetch uses the folder names the server lists",
	"subscribedonly": "no equivalent: mailfetch syncs the folders its patterns select, subscribed or not",
	"pathdelimiter":  "no equivalent: mailfetch uses the delimiter the server announces",
	"trash":          "no equivalent: mailfetch never copies messages to a trash folder",
	"trashnewonly":   "no equivalent: mailfetch never copies messages to a trash folder",
	"trashremotenew": "no equivalent: mailfetch never copies messages to a trash folder",
	"maxsize":        "no equivalent: mailfetch's IMAP sync fetches messages of any size",
	"mapinbox":       "no equivalent: mailfetch keeps INBOX in the Maildir's root",
	"altmap":         "no equivalent: mailfetch does not read mbsync's Berkeley DB UID map",
	"infodelimiter":  "no equivalent: mailfetch writes ':' before the flags (and reads '!' too)",
}

func (m *mbsyncImport) storeOption(l *mbLine) Note {
	if t, ok := mbStoreText[l.key()]; ok {
		return m.unmapped(l, t)
	}
	return m.unmapped(l, "not a store option this import knows: check it by hand")
}

// serverOption takes an IMAPAccount option into s; false when l is not one.
func (m *mbsyncImport) serverOption(s *mbServer, l *mbLine) bool {
	v := l.val()
	switch l.key() {
	case "host":
		s.host, s.hostLine = v, l.n
		lower := strings.ToLower(v)
		switch {
		case strings.HasPrefix(lower, "imaps:"):
			s.implicitURL = true
			s.host = v[len("imaps:"):]
		case strings.HasPrefix(lower, "imap:"):
			s.host = v[len("imap:"):]
		}
		s.host = strings.TrimPrefix(s.host, "//")
	case "port":
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			s.notes = append(s.notes, Note{Key: l.cmd, Value: v, Line: l.n, Attention: true, Text: "not a port number: the default port is used"})
			return true
		}
		s.port = p
	case "user":
		s.user = v
	case "usercmd":
		s.userCmd = l
	case "pass":
		s.pass = l
	case "passcmd":
		s.passCmd = l
	case "ssltype", "tlstype":
		s.tlsType = l
	case "useimaps":
		b := mbBool(v)
		s.useIMAPS = &b
	case "requiressl":
		b := mbBool(v)
		s.requireSSL = &b
	case "requirecram":
		s.requireCRAM = mbBool(v)
	case "certificatefile":
		s.certFile = l
	case "systemcertificates":
		s.systemCerts = l
	case "authmechs", "authmech":
		s.authMechs = l
	case "tunnel":
		s.tunnel = l
	case "timeout":
		s.timeout = l
	case "sslversions", "sslversion", "tlsversions", "tlsversion":
		s.notes = append(s.notes, m.unmapped(l, "mailfetch uses TLS 1.2 or later"))
	case "usesslv2", "usesslv3", "usetlsv1", "usetlsv1.1", "usetlsv1.2", "usetlsv1.3":
		s.notes = append(s.notes, m.unmapped(l, "mailfetch uses TLS 1.2 or later"))
	case "clientcertificate", "clientkey":
		s.notes = append(s.notes, m.unmapped(l, "no equivalent: mailfetch does not send client certificates"))
	case "ciphersstring", "cipherstring":
		s.notes = append(s.notes, m.unmapped(l, "no equivalent: mailfetch uses Go's TLS cipher suites"))
	case "pipelinedepth":
		s.notes = append(s.notes, m.unmapped(l, "no equivalent: mailfetch streams a folder's new messages with one FETCH"))
	case "disableextension", "disableextensions":
		s.notes = append(s.notes, m.unmapped(l, "no equivalent: mailfetch uses an extension only when the server announces it"))
	case "usekeychain":
		s.notes = append(s.notes, m.unmapped(l, "no equivalent: name a command that prints the password, such as `security find-internet-password -w -s HOST`, in password-command"))
	default:
		return false
	}
	return true
}

// mbBool reads mbsync's yes/no; anything else is false, as mbsync reads it
// (after an error message).
func mbBool(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true
	}
	return false
}

func (m *mbsyncImport) maildirStore(head *mbLine, body []*mbLine) error {
	st := &mbStore{name: head.val(), line: head.n}
	for _, l := range body {
		switch l.key() {
		case "path":
			st.path = l
		case "inbox":
			st.inbox = l
		case "subfolders":
			st.subFolders = l
		case "flatten":
			st.flatten = l
		default:
			st.notes = append(st.notes, m.storeOption(l))
		}
	}
	if st.path != nil && st.subFolders != nil && strings.EqualFold(st.subFolders.val(), "maildir++") {
		return lineError(m.file, head.n, "Maildir store %q: setting Path is incompatible with SubFolders Maildir++", st.name)
	}
	m.stores = append(m.stores, st)
	return nil
}

func (m *mbsyncImport) channel(head *mbLine, body []*mbLine) error {
	ch := &mbChannel{name: head.val(), line: head.n}
	for _, l := range body {
		switch l.key() {
		case "far", "near", "master", "slave":
			spec := l.val()
			rest, ok := strings.CutPrefix(spec, ":")
			i := strings.IndexByte(rest, ':')
			if !ok || i < 0 {
				return lineError(m.file, l.n, "malformed mailbox spec %q: write :STORE: or :STORE:MAILBOX", spec)
			}
			name, box := rest[:i], rest[i+1:]
			si := slices.IndexFunc(m.stores, func(s *mbStore) bool { return s.name == name })
			if si < 0 {
				return lineError(m.file, l.n, "unknown store %q (a store must come before the Channel that uses it)", name)
			}
			m.stores[si].used = true
			if k := l.key(); k == "far" || k == "master" {
				ch.far, ch.farBox = m.stores[si], box
			} else {
				ch.near, ch.nearBox = m.stores[si], box
			}
		case "pattern", "patterns":
			ch.patterns = append(ch.patterns, l.args...)
			if ch.patLine == 0 {
				ch.patLine = l.n
			}
		case "sync":
			ch.sync = l
		case "expunge":
			ch.expunge = l
		case "create":
			ch.create = l
		case "remove":
			ch.remove = l
		default:
			if t, ok := mbGlobalText[l.key()]; ok {
				ch.notes = append(ch.notes, m.unmapped(l, t))
			} else if t, ok := mbStoreText[l.key()]; ok {
				ch.notes = append(ch.notes, m.unmapped(l, t))
			} else {
				ch.notes = append(ch.notes, m.unmapped(l, "not a Channel option this import knows: check it by hand"))
			}
		}
	}
	if ch.far == nil || ch.near == nil {
		side := "far"
		if ch.far != nil {
			side = "near"
		}
		return lineError(m.file, head.n, "channel %q refers to no %s side store", ch.name, side)
	}
	m.channels = append(m.channels, ch)
	return nil
}

func (m *mbsyncImport) group(head *mbLine, body []*mbLine) {
	chans := slices.Clone(head.args[1:])
	for _, l := range body {
		if k := l.key(); k == "channel" || k == "channels" {
			chans = append(chans, l.args...)
		} else {
			m.res.Global = append(m.res.Global, m.unmapped(l, "not a Group option"))
		}
	}
	for _, c := range chans {
		name, _, _ := strings.Cut(c, ":")
		for _, ch := range m.channels {
			if ch.name == name {
				ch.inGroups = append(ch.inGroups, head.val())
			}
		}
	}
	runs := make([]string, len(chans))
	for i, c := range chans {
		name, _, _ := strings.Cut(c, ":")
		runs[i] = "--account " + shellQuote(name)
	}
	m.res.Global = append(m.res.Global, Note{Key: head.cmd, Value: head.val(), Line: head.n,
		Text: "mailfetch has no groups: mailfetch imap sync " + strings.Join(runs, " ") + " syncs the same accounts"})
}

// accounts turns the channels into accounts.
func (m *mbsyncImport) accounts(env Env) {
	for _, st := range m.stores {
		if !st.used {
			kind := "MaildirStore"
			if st.imap {
				kind = "IMAPStore"
			}
			m.res.Global = append(m.res.Global, Note{Key: kind, Value: st.name, Line: st.line, Text: "used by no Channel: not imported"})
		}
	}
	for _, s := range m.servers {
		used := slices.ContainsFunc(m.stores, func(st *mbStore) bool { return st.used && st.server == s })
		if !used {
			m.res.Global = append(m.res.Global, Note{Key: "IMAPAccount", Value: s.name, Line: s.line, Text: "used by no Channel: not imported"})
		}
	}
	for _, ch := range m.channels {
		a := m.channelAccount(ch, env)
		if a == nil {
			continue
		}
		m.res.Accounts = append(m.res.Accounts, a)
	}
	m.mergeShared()
	uniqueNames(m.res.Accounts)
}

// channelAccount converts one Channel, or returns nil (with a global note)
// when it does not connect an IMAP store with a Maildir store.
func (m *mbsyncImport) channelAccount(ch *mbChannel, env Env) *Account {
	imapSt, mdSt, imapBox, mdBox := ch.far, ch.near, ch.farBox, ch.nearBox
	serverIsFar := true
	switch {
	case ch.far.imap && !ch.near.imap:
	case !ch.far.imap && ch.near.imap:
		imapSt, mdSt, imapBox, mdBox = ch.near, ch.far, ch.nearBox, ch.farBox
		serverIsFar = false
	default:
		kind := "two Maildir stores"
		if ch.far.imap {
			kind = "two IMAP stores"
		}
		m.res.Global = append(m.res.Global, Note{Key: "Channel", Value: ch.name, Line: ch.line, Attention: true,
			Text: "it connects " + kind + ": mailfetch syncs an IMAP server with a Maildir only; not imported"})
		return nil
	}
	a := &Account{Name: ch.name, Protocol: "imap",
		Source: fmt.Sprintf("Channel %q (line %d): IMAPStore %q <-> MaildirStore %q", ch.name, ch.line, imapSt.name, mdSt.name)}
	m.serverInto(a, imapSt.server, env)
	if imapSt.imapPath != nil {
		a.note(Note{Key: "Path", Value: imapSt.imapPath.val(), Line: imapSt.imapPath.n, Attention: true,
			Text: "no equivalent: mailfetch has no server prefix; it matches folders and names them locally by their full server names"})
	}
	a.Notes = append(a.Notes, imapSt.notes...)
	m.maildirInto(a, mdSt, ch, env)
	m.foldersInto(a, ch, imapBox, mdBox)
	m.opsInto(a, ch, serverIsFar)
	a.Notes = append(a.Notes, ch.notes...)
	return a
}

// serverInto fills the connection and login keys.
func (m *mbsyncImport) serverInto(a *Account, s *mbServer, env Env) {
	a.Host = s.host
	if s.tunnel != nil {
		a.Disabled = "mbsync connects through a Tunnel command (line " + strconv.Itoa(s.tunnel.n) + "), which mailfetch cannot do"
		a.note(m.unmapped(s.tunnel, "no equivalent: mailfetch connects to host and port itself"))
	}
	if a.Host == "" && a.Disabled == "" {
		a.Disabled = fmt.Sprintf("the IMAP account %q has no Host", s.name)
	}
	// TLS: SSLType/TLSType, else the legacy options, else STARTTLS.
	switch {
	case s.tlsType != nil:
		switch strings.ToLower(s.tlsType.val()) {
		case "imaps":
			a.TLS = "implicit"
		case "starttls":
			a.TLS = "starttls"
		case "none":
			a.TLS = "none"
		default:
			a.TLS = "starttls"
			a.note(Note{Key: s.tlsType.cmd, Value: s.tlsType.val(), Line: s.tlsType.n, Attention: true,
				Text: "not None, STARTTLS or IMAPS: tls = \"starttls\", mbsync's default, is used"})
		}
	case s.implicitURL || s.useIMAPS != nil && *s.useIMAPS:
		a.TLS = "implicit"
	case s.tunnel != nil:
		a.TLS = "none"
	default:
		a.TLS = "starttls"
		if s.requireSSL != nil && !*s.requireSSL {
			a.keyNote("tls", "the mbsync config had RequireSSL no (STARTTLS when offered); mailfetch requires STARTTLS once asked for it")
		}
	}
	a.Port = s.port
	if a.Port == 0 {
		a.Port = 143
		if a.TLS == "implicit" {
			a.Port = 993
		}
	}
	if s.certFile != nil {
		systemCerts := s.systemCerts == nil || mbBool(s.systemCerts.val())
		m.caFile(a, s.certFile, systemCerts, env)
	}
	if s.systemCerts != nil && s.certFile == nil && !mbBool(s.systemCerts.val()) {
		a.note(Note{Key: s.systemCerts.cmd, Value: s.systemCerts.val(), Line: s.systemCerts.n, Attention: true,
			Text: "without a CertificateFile nothing would be trusted; mailfetch trusts the system roots"})
	}
	a.User = s.user
	if s.userCmd != nil {
		a.note(Note{Key: s.userCmd.cmd, Value: s.userCmd.val(), Line: s.userCmd.n, Attention: true,
			Text: "no equivalent: mailfetch needs the user name itself in user"})
		if a.User == "" && a.Disabled == "" {
			a.Disabled = "the user name comes from a UserCmd; write it in user"
		}
	}
	if a.User == "" && a.Disabled == "" {
		a.Disabled = fmt.Sprintf("the IMAP account %q has no User", s.name)
	}
	switch {
	case s.passCmd != nil:
		cmd := s.passCmd.val()
		if rest, ok := strings.CutPrefix(cmd, "+"); ok {
			cmd = rest
			a.keyNote("password-command", "the mbsync PassCmd started with \"+\": it talks to the terminal (a prompt). "+
				"mailfetch runs it without one (standard input /dev/null), so it must get its passphrase from an agent such as gpg-agent")
		}
		a.PasswordCommand = cmd
	case s.pass != nil:
		a.plaintextHint("mbsync", "Pass", s.pass.n)
	}
	m.authInto(a, s)
	if s.timeout != nil {
		sec, err := strconv.Atoi(s.timeout.val())
		switch {
		case err == nil && sec > 0:
			a.Timeout = time.Duration(sec) * time.Second
		default:
			a.note(m.unmapped(s.timeout, "mailfetch always has a timeout: its default, 60s, is used"))
		}
	}
	a.Notes = append(a.Notes, s.notes...)
}

// authInto maps AuthMechs (and the legacy RequireCRAM) to auth, and decides
// whether the password may travel without TLS.
func (m *mbsyncImport) authInto(a *Account, s *mbServer) {
	mechs := []string{"*"}
	line := 0
	if s.authMechs != nil {
		mechs, line = s.authMechs.args, s.authMechs.n
	}
	if s.requireCRAM {
		mechs = []string{"CRAM-MD5"}
	}
	var mapped, unknown []string
	wildcard := false
	for _, mech := range mechs {
		if mech == "*" {
			wildcard = true
			continue
		}
		if v := mailfetchMech(mech, "imap"); v != "" {
			if !slices.Contains(mapped, v) {
				mapped = append(mapped, v)
			}
		} else {
			unknown = append(unknown, mech)
		}
	}
	switch {
	case wildcard:
		a.Auth = "auto"
	case len(mapped) == 1:
		a.Auth = mapped[0]
	default:
		a.Auth = "auto"
	}
	if s.authMechs != nil && (len(unknown) > 0 || len(mapped) > 1 || wildcard && len(mechs) > 1) {
		text := "mailfetch takes one mechanism, or auto (PLAIN when the server offers it, else LOGIN)"
		if len(unknown) > 0 {
			text = "mailfetch does not speak " + strings.Join(unknown, ", ") + "; " + text
		}
		a.note(Note{Key: s.authMechs.cmd, Value: s.authMechs.joined(), Raw: true, Line: line, Attention: len(mapped) == 0 && !wildcard, Text: text})
	}
	if a.TLS != "none" || a.Disabled != "" {
		return
	}
	if slices.Contains(mapped, "login") || slices.Contains(mapped, "plain") {
		a.AllowPlaintext = true
		a.keyNote("allow-plaintext", "the mbsync config sent the password without TLS (SSLType None, AuthMechs "+strings.Join(mechs, " ")+")")
		return
	}
	if a.Auth != "cram-md5" {
		a.note(Note{Key: "SSLType", Value: "None", Attention: true,
			Text: "mbsync used no mechanism that sends the password in clear here; mailfetch needs tls = \"starttls\" or \"implicit\", " +
				"auth = \"cram-md5\", or allow-plaintext = true before it will log in"})
	}
}

// mailfetchMech maps a SASL or login mechanism name to mailfetch's auth
// value for protocol, or "" when mailfetch does not speak it.
func mailfetchMech(mech, protocol string) string {
	switch m := strings.ToLower(strings.TrimSpace(mech)); m {
	case "plain", "login", "cram-md5", "xoauth2", "oauthbearer":
		return m
	case "user", "apop":
		if protocol == "pop3" {
			return m
		}
	}
	return ""
}

// systemBundles are the CA bundles the systems ship: trusting one of them is
// what mailfetch does without a ca-file.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
	"/etc/pki/tls/cacert.pem", "/etc/ssl/ca-bundle.pem", "/usr/local/share/certs/ca-root-nss.crt",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/usr/local/etc/openssl/cert.pem",
}

func (m *mbsyncImport) caFile(a *Account, l *mbLine, systemCerts bool, env Env) {
	f := l.val()
	if slices.Contains(systemBundles, f) {
		a.note(Note{Key: l.cmd, Value: f, Line: l.n, Text: "the system's own CA bundle: mailfetch trusts the system roots without a ca-file"})
		return
	}
	a.CAFile = localPath(f, env)
	pathNote(a, l.cmd, a.CAFile, l.n)
	if systemCerts {
		a.keyNote("ca-file", "mbsync trusted the system roots as well as this file, and accepted a server certificate in it even when "+
			"expired; mailfetch trusts only this file's certificates, as roots. If it holds the server's own certificate, "+
			"fingerprint = \"...\" (its SHA-256: "+sha256Hint+") pins it instead")
	}
}

// maildirInto decides maildir and layout from the MaildirStore.
func (m *mbsyncImport) maildirInto(a *Account, st *mbStore, ch *mbChannel, env Env) {
	inbox := "~/Maildir"
	inboxLine := 0
	if st.inbox != nil {
		inbox, inboxLine = localPath(st.inbox.val(), env), st.inbox.n
	}
	root := ""
	if st.path != nil {
		root = localPath(st.path.val(), env)
	}
	style := ""
	if st.subFolders != nil {
		style = strings.ToLower(st.subFolders.val())
	}
	multi := len(ch.patterns) > 0
	switch {
	case style == "maildir++":
		a.Maildir, a.Layout = inbox, "maildir++"
	case !multi && isInbox(boxOr(ch, st)):
		a.Maildir = inbox
	case root == "":
		a.Maildir = inbox
		a.note(Note{Key: "MaildirStore", Value: st.name, Line: st.line, Attention: true,
			Text: "it has no Path, so mbsync kept folders other than INBOX relative to the directory it ran in; mailfetch keeps them under maildir"})
	default:
		a.Maildir, a.Layout = root, "fs"
		if !samePath(root, inbox) && mayMatchInbox(ch, st) {
			a.note(Note{Key: "Inbox", Value: inbox, Line: inboxLine, Attention: true,
				Text: fmt.Sprintf("mbsync kept INBOX there and the other folders under %s; mailfetch keeps INBOX in the root of maildir, "+
					"so the messages of INBOX are new to it (--dry-run shows what the first run fetches)", root)})
		}
	}
	switch {
	case st.flatten != nil:
		a.note(Note{Key: st.flatten.cmd, Value: st.flatten.val(), Line: st.flatten.n, Attention: true,
			Text: "no equivalent: mailfetch writes folders as nested directories (layout = \"fs\") or as .A.B (\"maildir++\")"})
	case style == "legacy":
		a.note(Note{Key: st.subFolders.cmd, Value: st.subFolders.val(), Line: st.subFolders.n, Attention: true,
			Text: "no equivalent: Path/top/.sub/.subsub is neither mailfetch's fs layout (top/sub/subsub) nor Maildir++"})
	case style == "verbatim":
		a.keyNote("layout", "SubFolders Verbatim (line "+strconv.Itoa(st.subFolders.n)+")")
	case style == "maildir++":
		a.keyNote("layout", "SubFolders Maildir++ (line "+strconv.Itoa(st.subFolders.n)+")")
	case style == "" && multi:
		a.keyNote("layout", "mbsync had no SubFolders style, so only top-level folders: the same directories as layout = \"fs\"")
	case style != "":
		a.note(Note{Key: st.subFolders.cmd, Value: st.subFolders.val(), Line: st.subFolders.n, Attention: true,
			Text: "not Verbatim, Maildir++ or Legacy"})
	}
	if a.Maildir == root && st.path != nil {
		pathNote(a, st.path.cmd, a.Maildir, st.path.n)
	} else if st.inbox != nil {
		pathNote(a, st.inbox.cmd, a.Maildir, st.inbox.n)
	}
	a.Notes = append(a.Notes, st.notes...)
}

func boxOr(ch *mbChannel, st *mbStore) string {
	box := ch.nearBox
	if st == ch.far {
		box = ch.farBox
	}
	if box == "" {
		return "INBOX"
	}
	return box
}

// mayMatchInbox reports whether the Channel may sync INBOX: its one box is
// INBOX, or a pattern that includes could match it.
func mayMatchInbox(ch *mbChannel, st *mbStore) bool {
	if len(ch.patterns) == 0 {
		return isInbox(boxOr(ch, st))
	}
	if boxOr(ch, st) != "INBOX" {
		return false // a prefix: every folder is under it
	}
	for _, p := range ch.patterns {
		u := strings.ToUpper(p)
		if strings.HasPrefix(u, "INBOX") || strings.HasPrefix(p, "*") || strings.HasPrefix(p, "%") {
			return true
		}
	}
	return false
}

func isInbox(box string) bool { return strings.EqualFold(box, "INBOX") }

func samePath(a, b string) bool { return path.Clean(a) == path.Clean(b) }

// foldersInto sets folders from Patterns, or from the one mailbox the
// Channel names.
func (m *mbsyncImport) foldersInto(a *Account, ch *mbChannel, imapBox, mdBox string) {
	if len(ch.patterns) > 0 {
		if imapBox != mdBox {
			a.Disabled = fmt.Sprintf("the Channel puts the server's folders under %q into %q locally; mailfetch keeps folder names as they are", imapBox, mdBox)
			a.Folders = slices.Clone(ch.patterns)
			return
		}
		a.Folders = make([]string, len(ch.patterns))
		for i, p := range ch.patterns {
			neg := strings.HasPrefix(p, "!")
			p = imapBox + strings.TrimPrefix(p, "!")
			if neg {
				p = "!" + p
			}
			a.Folders[i] = p
		}
		a.keyNote("folders", "Patterns (line "+strconv.Itoa(ch.patLine)+")")
		return
	}
	ib, mb := imapBox, mdBox
	if ib == "" {
		ib = "INBOX"
	}
	if mb == "" {
		mb = "INBOX"
	}
	if ib != mb && !(isInbox(ib) && isInbox(mb)) {
		a.Disabled = fmt.Sprintf("the Channel syncs the server's %q into the local %q; mailfetch keeps folder names as they are", ib, mb)
	}
	a.Folders = []string{ib}
}

// mbOps is a Sync setting: which kinds of change travel in which direction.
type mbOps struct{ pull, push map[string]bool }

var mbOpTypes = []string{"new", "renew", "delete", "flags"}

// parseSync reads a Sync line (mbsync(1), Channels) into the operations.
func parseSync(args []string) mbOps {
	ops := mbOps{pull: map[string]bool{}, push: map[string]bool{}}
	var dirPull, dirPush bool
	types := map[string]bool{}
	compound := false
	for _, arg := range args {
		a := strings.ToLower(arg)
		switch {
		case a == "none" || a == "noop":
		case a == "all" || a == "full":
			dirPull, dirPush = true, true
		case a == "pull":
			dirPull = true
		case a == "push":
			dirPush = true
		case slices.Contains(mbOpTypes, a):
			types[a] = true
		case strings.HasPrefix(a, "pull") && slices.Contains(mbOpTypes, a[4:]):
			ops.pull[a[4:]], compound = true, true
		case strings.HasPrefix(a, "push") && slices.Contains(mbOpTypes, a[4:]):
			ops.push[a[4:]], compound = true, true
		}
	}
	all := func(m map[string]bool) {
		for _, t := range mbOpTypes {
			m[t] = true
		}
	}
	if compound {
		// Plain directions and types assert whole rows and columns.
		if dirPull {
			all(ops.pull)
		}
		if dirPush {
			all(ops.push)
		}
		for t := range types {
			ops.pull[t], ops.push[t] = true, true
		}
		return ops
	}
	if len(types) == 0 && (dirPull || dirPush) {
		for _, t := range mbOpTypes {
			types[t] = true
		}
	}
	if !dirPull && !dirPush && len(types) > 0 {
		dirPull, dirPush = true, true
	}
	for t := range types {
		ops.pull[t] = dirPull
		ops.push[t] = dirPush
	}
	return ops
}

// sides reads a Create, Remove or Expunge value: which sides it names.
func sides(args []string) (far, near bool) {
	for _, a := range args {
		switch strings.ToLower(a) {
		case "both":
			far, near = true, true
		case "far", "master":
			far = true
		case "near", "slave":
			near = true
		}
	}
	return far, near
}

// opsInto compares the Channel's Sync, Expunge, Create and Remove with what
// mailfetch's IMAP sync does: new messages, expunges and flags from the
// server; flags to the server; deletions to the server only with
// expunge-remote.
func (m *mbsyncImport) opsInto(a *Account, ch *mbChannel, serverIsFar bool) {
	syncLine := ch.sync
	if syncLine == nil {
		syncLine = m.global.sync
	}
	ops := parseSync([]string{"All"})
	syncKey, syncVal, syncN := "Sync", "All (the default)", 0
	raw := true
	if syncLine != nil {
		ops = parseSync(syncLine.args)
		syncKey, syncVal, syncN, raw = syncLine.cmd, syncLine.joined(), syncLine.n, true
	}
	down, up := ops.pull, ops.push // far to near, near to far
	if !serverIsFar {
		down, up = up, down
	}
	var diffs []string
	attention := false
	if !down["new"] {
		diffs = append(diffs, "mbsync did not fetch new messages; mailfetch does")
	}
	if !down["delete"] {
		diffs = append(diffs, "mbsync kept messages that were expunged on the server; mailfetch removes them from the Maildir too")
		attention = true
	}
	if !down["flags"] {
		diffs = append(diffs, "mailfetch takes flag changes from the server")
	}
	if up["new"] {
		diffs = append(diffs, "mailfetch never uploads messages: mail put into the Maildir stays local")
	}
	if !up["flags"] {
		diffs = append(diffs, "mailfetch also sends flag changes made in the Maildir (read, replied, flagged) to the server")
		attention = true
	}
	if len(diffs) == 0 {
		diffs = []string{"the same as mailfetch's IMAP sync"}
	}
	a.note(Note{Key: syncKey, Value: syncVal, Raw: raw, Line: syncN, Attention: attention, Text: strings.Join(diffs, "; ")})

	exp := ch.expunge
	if exp == nil {
		exp = m.global.expunge
	}
	expFar, expNear := false, false
	if exp != nil {
		expFar, expNear = sides(exp.args)
	}
	expServer, expLocal := expFar, expNear
	if !serverIsFar {
		expServer, expLocal = expNear, expFar
	}
	switch {
	case up["delete"] && expServer:
		a.ExpungeRemote = true
		a.keyNote("expunge-remote", fmt.Sprintf("mbsync passed deletions made in the Maildir on to the server and expunged them (%s %s, line %d): "+
			"expunge-remote does the same, with UID EXPUNGE of exactly those messages", exp.cmd, exp.joined(), exp.n))
	case expServer:
		a.note(Note{Key: exp.cmd, Value: exp.joined(), Raw: true, Line: exp.n,
			Text: "no equivalent: mailfetch never expunges on the server what others marked \\Deleted"})
	case up["delete"]:
		a.note(Note{Key: syncKey, Value: syncVal, Raw: raw, Line: syncN,
			Text: "mbsync marked messages deleted in the Maildir \\Deleted on the server without expunging them; mailfetch leaves them alone (expunge-remote = false)"})
	}
	if expLocal {
		a.note(Note{Key: exp.cmd, Value: exp.joined(), Raw: true, Line: exp.n,
			Text: "mbsync removed messages flagged T (trashed) from the Maildir; mailfetch leaves them"})
	} else if exp != nil && !expServer {
		a.note(Note{Key: exp.cmd, Value: exp.joined(), Raw: true, Line: exp.n, Text: "mailfetch does not expunge either"})
	}
	if cr := firstLine(ch.create, m.global.create); cr != nil {
		a.note(Note{Key: cr.cmd, Value: cr.joined(), Raw: true, Line: cr.n, Text: "mailfetch creates missing folders in the Maildir, never on the server"})
	}
	if rm := firstLine(ch.remove, m.global.remove); rm != nil {
		a.note(Note{Key: rm.cmd, Value: rm.joined(), Raw: true, Line: rm.n, Text: "mailfetch never removes a folder, on either side"})
	}
	if len(ch.inGroups) > 0 {
		a.keyNote("protocol", "in mbsync Group "+strings.Join(ch.inGroups, ", "))
	}
}

func firstLine(ls ...*mbLine) *mbLine {
	for _, l := range ls {
		if l != nil {
			return l
		}
	}
	return nil
}

// mergeShared makes one account of Channels that sync one server into one
// Maildir, as mailfetch's IMAP accounts cannot share a Maildir: their
// folders patterns are joined when none excludes (a join with exclusions
// would change what each selects). Otherwise the later account is written
// commented out.
func (m *mbsyncImport) mergeShared() {
	var out []*Account
	for _, a := range m.res.Accounts {
		if a.Disabled != "" {
			out = append(out, a)
			continue
		}
		i := slices.IndexFunc(out, func(b *Account) bool {
			return b.Disabled == "" && samePath(b.Maildir, a.Maildir)
		})
		if i < 0 {
			out = append(out, a)
			continue
		}
		b := out[i]
		sameServer := b.Host == a.Host && b.Port == a.Port && b.User == a.User
		excl := slices.ContainsFunc(append(slices.Clone(a.Folders), b.Folders...), func(p string) bool { return strings.HasPrefix(p, "!") })
		if sameServer && !excl {
			for _, f := range a.Folders {
				if !slices.Contains(b.Folders, f) {
					b.Folders = append(b.Folders, f)
				}
			}
			b.keyNote("folders", fmt.Sprintf("with the folders of Channel %q, which syncs the same server into the same Maildir", a.Name))
			for _, n := range a.Notes {
				if !slices.ContainsFunc(b.Notes, func(o Note) bool { return o.Line == n.Line && o.Key == n.Key && o.Text == n.Text }) {
					b.Notes = append(b.Notes, n)
				}
			}
			continue
		}
		a.Disabled = fmt.Sprintf("it syncs into the Maildir of account %q, and an IMAP account needs a Maildir of its own", b.Name)
		if sameServer {
			a.Disabled += fmt.Sprintf(": add its folders to %q by hand", b.Name)
		}
		out = append(out, a)
	}
	m.res.Accounts = out
}

// uniqueNames makes the account names unique ("work", "work-2") and valid
// for mailfetch (no "/", not "." or "..").
func uniqueNames(accounts []*Account) {
	seen := map[string]bool{}
	for _, a := range accounts {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r < 0x20 || r == 0x7f {
				return '-'
			}
			return r
		}, a.Name)
		if name == "" || name == "." || name == ".." {
			name = "account"
		}
		base := name
		for i := 2; seen[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		seen[name] = true
		a.Name = name
	}
}

// secretKey reports whether an option's value is a secret by its name: a
// password, a token or a client secret (but not a command or file that
// gives one).
func secretKey(key string) bool {
	k := strings.ToLower(key)
	if strings.Contains(k, "cmd") || strings.Contains(k, "command") || strings.Contains(k, "eval") || strings.Contains(k, "file") {
		return false
	}
	return strings.Contains(k, "pass") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}
