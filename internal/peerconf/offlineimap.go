package peerconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// offlineimap's config (offlineimap.conf, /usr/share/doc/offlineimap3):
// configparser's format with %(name)s interpolation. [general] names the
// accounts; each [Account NAME] names a local and a remote repository,
// [Repository NAME] sections of type Maildir (or GmailMaildir) and IMAP (or
// Gmail).

type oiImport struct {
	f   *iniFile
	env Env
}

// get is the interpolated value of key in s (or [DEFAULT]), nil if unset.
func (m *oiImport) get(s *iniSection, key string) (*iniOption, error) {
	o := m.f.lookup(s, key)
	if o == nil {
		return nil, nil
	}
	v, err := m.f.interpolate(s, o)
	if err != nil {
		return nil, err
	}
	c := *o
	c.value = v
	return &c, nil
}

func (m *oiImport) boolean(s *iniSection, key string, def bool) (bool, *iniOption, error) {
	o, err := m.get(s, key)
	if err != nil || o == nil {
		return def, o, err
	}
	switch strings.ToLower(o.value) {
	case "1", "yes", "true", "on":
		return true, o, nil
	case "0", "no", "false", "off":
		return false, o, nil
	}
	return def, o, lineError(m.f.path, o.line, "%s must be yes or no, not %q", key, clip(o.value))
}

func importOfflineIMAP(file string, data []byte, env Env) (*Result, error) {
	f, err := parseINI(file, data)
	if err != nil {
		return nil, err
	}
	m := &oiImport{f: f, env: env}
	res := &Result{Peer: "offlineimap", Files: []string{file}}
	general := f.section("general")
	if general == nil {
		return nil, lineError(file, 0, "no [general] section: is it an offlineimap config?")
	}
	accountsOpt, err := m.get(general, "accounts")
	if err != nil {
		return nil, err
	}
	if accountsOpt == nil {
		return nil, lineError(file, general.line, "[general] has no accounts")
	}
	var timeout *iniOption
	for _, o := range general.options {
		switch o.key {
		case "accounts":
		case "socktimeout":
			timeout = o
		case "metadata":
			res.Global = append(res.Global, Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch keeps its state in each account's state-dir"})
		case "pythonfile":
			res.Global = append(res.Global, Note{Key: o.key, Value: o.value, Line: o.line,
				Text: "not read by the import: settings that call its functions become comments"})
		case "maxsyncaccounts":
			res.Global = append(res.Global, Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch syncs the accounts one after another"})
		case "fsync":
			res.Global = append(res.Global, Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch always fsyncs each message, its directory and its state"})
		default:
			res.Global = append(res.Global, Note{Key: o.key, Value: o.value, Line: o.line, Text: "no equivalent in mailfetch"})
		}
	}
	for _, s := range f.sections {
		if s.name == "mbnames" {
			res.Global = append(res.Global, Note{Key: "[mbnames]", Line: s.line, Text: "no equivalent: mailfetch writes no mailbox list for a mail reader"})
		}
	}
	for _, name := range strings.Split(accountsOpt.value, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		a, err := m.account(name, accountsOpt.line, timeout)
		if err != nil {
			return nil, err
		}
		res.Accounts = append(res.Accounts, a)
	}
	disableDuplicates(res.Accounts)
	uniqueNames(res.Accounts)
	return res, nil
}

func (m *oiImport) section(name string, refLine int) (*iniSection, error) {
	s := m.f.section(name)
	if s == nil {
		return nil, lineError(m.f.path, refLine, "no [%s] section", name)
	}
	return s, nil
}

func (m *oiImport) account(name string, line int, timeout *iniOption) (*Account, error) {
	acc, err := m.section("Account "+name, line)
	if err != nil {
		return nil, err
	}
	a := &Account{Name: name, Protocol: "imap", Source: fmt.Sprintf("[Account %s] (line %d)", name, acc.line)}
	note := func(o *iniOption, text string, attention bool) {
		a.note(Note{Key: o.key, Value: o.value, Hidden: secretKey(o.key), Line: o.line, Text: text, Attention: attention})
	}
	var local, remote *iniSection
	for _, key := range []string{"localrepository", "remoterepository"} {
		o, err := m.get(acc, key)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, lineError(m.f.path, acc.line, "[Account %s] has no %s", name, key)
		}
		s, err := m.section("Repository "+o.value, o.line)
		if err != nil {
			return nil, err
		}
		if key == "localrepository" {
			local = s
		} else {
			remote = s
		}
	}
	for _, o := range acc.options {
		switch o.key {
		case "localrepository", "remoterepository":
		case "autorefresh", "quick", "holdconnectionopen", "keepalive":
			note(o, "no equivalent: mailfetch syncs once and exits; run it from cron or a systemd timer", false)
		case "presynchook", "postsynchook":
			note(o, "no equivalent: run the command before or after mailfetch yourself", true)
		case "maxsize", "maxage", "startdate":
			note(o, "no equivalent: mailfetch's IMAP sync takes every message of the folders it syncs", true)
		case "synclabels", "labelsheader", "ignorelabels":
			note(o, "no equivalent: mailfetch does not sync Gmail labels", false)
		case "utf8foldernames":
			note(o, "mailfetch always names local folders in UTF-8", false)
		case "maildir-windows-compatible":
			note(o, "no equivalent: mailfetch writes ':' before the flags (and reads '!' too)", true)
		default:
			note(o, "no equivalent in mailfetch", false)
		}
	}
	if err := m.remote(a, remote); err != nil {
		return nil, err
	}
	if err := m.local(a, local); err != nil {
		return nil, err
	}
	if timeout != nil {
		if n, err := strconv.ParseFloat(timeout.value, 64); err == nil && n >= 1 {
			a.Timeout = secondsDuration(int(n))
			a.keyNote("timeout", fmt.Sprintf("socktimeout in [general] (line %d)", timeout.line))
		}
	}
	if a.Folders != nil {
		folderSeparatorNote(a)
	}
	return a, nil
}

// remote maps the IMAP repository.
func (m *oiImport) remote(a *Account, s *iniSection) error {
	typ, err := m.get(s, "type")
	if err != nil {
		return err
	}
	if typ == nil {
		return lineError(m.f.path, s.line, "[%s] has no type", s.name)
	}
	gmail := false
	switch typ.value {
	case "IMAP":
	case "Gmail":
		gmail = true
		a.Host, a.Port = "imap.gmail.com", 993
	default:
		a.Disabled = fmt.Sprintf("the remote repository is of type %s: mailfetch syncs an IMAP server into a Maildir", typ.value)
	}
	note := func(o *iniOption, text string, attention bool) {
		a.note(Note{Key: o.key, Value: o.value, Hidden: secretKey(o.key), Line: o.line, Text: text, Attention: attention})
	}
	ssl, _, err := m.boolean(s, "ssl", true)
	if err != nil {
		return err
	}
	starttls, _, err := m.boolean(s, "starttls", true)
	if err != nil {
		return err
	}
	switch {
	case ssl:
		a.TLS = "implicit"
	case starttls:
		a.TLS = "starttls"
		a.keyNote("tls", "offlineimap used STARTTLS when the server offered it; mailfetch requires it")
	default:
		a.TLS = "none"
	}
	var mechs *iniOption
	var pass *iniOption
	for _, raw := range s.options {
		o, err := m.get(s, raw.key)
		if err != nil {
			return err
		}
		switch o.key {
		case "type", "ssl", "starttls":
		case "remotehost":
			a.Host = o.value
		case "remoteport":
			n, err := strconv.Atoi(o.value)
			if err != nil || n < 1 || n > 65535 {
				return lineError(m.f.path, o.line, "remoteport must be a port number, not %q", clip(o.value))
			}
			a.Port = n
		case "remoteuser":
			a.User = o.value
		case "remotepass":
			pass = o
			a.plaintextHint("offlineimap", "remotepass", o.line)
		case "remotepassfile":
			a.PasswordFile = localPath(expandVars(o.value), m.env)
			pathNote(a, o.key, a.PasswordFile, o.line)
			a.keyNote("password-file", "mailfetch reads its first line and refuses it if group or others can read it (chmod 600)")
		case "remotepasseval":
			if lit, ok := pyStringLiteral(o.value); ok && lit != "" {
				a.plaintextHint("offlineimap", "remotepasseval string", o.line)
				a.note(Note{Key: o.key, Hidden: true, Line: o.line, Text: "a plaintext password in a Python string"})
				continue
			}
			cmd, err := pyCommand(o.value)
			if err != nil {
				note(o, "a Python expression the import cannot turn into a command: write password-command by hand (mailfetch runs it with sh -c and reads the first line)", true)
				continue
			}
			a.PasswordCommand = cmd
			a.keyNote("password-command", fmt.Sprintf("from remotepasseval (line %d)", o.line))
		case "remotehosteval", "remoteporteval", "remoteusereval":
			note(o, "a Python expression the import cannot evaluate: write "+strings.TrimSuffix(strings.TrimPrefix(o.key, "remote"), "eval")+" by hand", true)
		case "sslcacertfile":
			switch {
			case o.value == "OS-DEFAULT" || slices.Contains(systemBundles, o.value):
				note(o, "the system's own CA bundle: mailfetch trusts the system roots without a ca-file", false)
			default:
				a.CAFile = localPath(expandVars(o.value), m.env)
				pathNote(a, o.key, a.CAFile, o.line)
			}
		case "cert_fingerprint":
			for _, fp := range strings.Split(o.value, ",") {
				if fp = strings.TrimSpace(fp); fp != "" {
					a.setFingerprint(o.key, fp, o.line)
				}
			}
		case "auth_mechanisms":
			mechs = o
		case "maxconnections":
			n, err := strconv.Atoi(o.value)
			if err != nil || n < 1 {
				note(o, "not a number: mailfetch's default is used", true)
				continue
			}
			a.Jobs = min(n, 8)
			a.keyNote("jobs", fmt.Sprintf("maxconnections = %d (line %d); mailfetch syncs at most 8 folders at once", n, o.line))
		case "folderfilter":
			folders, err := pyFolderFilter(o.value)
			if err != nil {
				note(o, "a Python expression the import cannot read as folder patterns: write folders by hand (* and % match, !PATTERN excludes, the last match wins)", true)
				continue
			}
			a.Folders = folders
			a.keyNote("folders", fmt.Sprintf("from folderfilter (line %d)", o.line))
		case "readonly":
			if iniTrue(o.value) {
				note(o, "mailfetch's IMAP sync sends flag changes made in the Maildir (read, replied, flagged) to the server; it never uploads or deletes messages unless expunge-remote = true", true)
			}
		case "oauth2_client_id", "oauth2_client_secret", "oauth2_refresh_token", "oauth2_access_token", "oauth2_request_url",
			"oauth2_client_id_eval", "oauth2_client_secret_eval", "oauth2_refresh_token_eval", "oauth2_access_token_eval":
			note(o, "mailfetch takes an OAuth2 access token from password-command (auth = \"xoauth2\"): a helper such as oama or mutt_oauth2.py prints one", true)
		case "nametrans":
			note(o, "no equivalent: mailfetch names local folders by their server names", true)
		case "expunge":
			note(o, "mailfetch never expunges on the server unless expunge-remote = true", false)
		case "subscribedonly":
			note(o, "no equivalent: mailfetch syncs the folders its patterns select, subscribed or not", false)
		case "idlefolders":
			note(o, "no equivalent: mailfetch syncs once and exits", false)
		case "sslclientcert", "sslclientkey":
			note(o, "no equivalent: mailfetch does not send client certificates", true)
		case "ssl_version", "tls_level":
			note(o, "mailfetch uses TLS 1.2 or later", false)
		case "preauthtunnel", "transporttunnel":
			a.Disabled = fmt.Sprintf("offlineimap connects through a tunnel command (line %d), which mailfetch cannot do", o.line)
			note(o, "no equivalent: mailfetch connects to host and port itself", true)
		case "trashfolder", "spamfolder":
			note(o, "no equivalent: mailfetch syncs the folders its patterns select, these included", false)
		case "sync_deletes":
			note(o, "mailfetch removes from the Maildir what the server expunged, and deletes on the server only with expunge-remote = true", true)
		case "createfolders":
			note(o, "mailfetch creates missing folders in the Maildir, never on the server", false)
		default:
			note(o, "no equivalent in mailfetch", false)
		}
	}
	if a.Port == 0 {
		a.Port = 143
		if a.TLS == "implicit" {
			a.Port = 993
		}
	}
	if mechs != nil {
		var mapped, unknown []string
		for _, mech := range strings.Split(mechs.value, ",") {
			if v := mailfetchMech(mech, "imap"); v != "" {
				if !slices.Contains(mapped, v) {
					mapped = append(mapped, v)
				}
			} else if strings.TrimSpace(mech) != "" {
				unknown = append(unknown, strings.TrimSpace(mech))
			}
		}
		if len(mapped) == 1 {
			a.Auth = mapped[0]
		} else {
			a.Auth = "auto"
			text := "mailfetch takes one mechanism, or auto (PLAIN when the server offers it, else LOGIN)"
			if len(unknown) > 0 {
				text = "mailfetch does not speak " + strings.Join(unknown, ", ") + "; " + text
			}
			note(mechs, text, len(mapped) == 0)
		}
	} else {
		a.Auth = "auto"
	}
	if gmail && a.Auth == "auto" && a.PasswordCommand == "" && a.PasswordFile == "" && pass == nil {
		a.keyNote("auth", "Gmail needs an app password, or auth = \"xoauth2\" with a password-command that prints an access token")
	}
	if a.TLS == "none" && a.Disabled == "" && a.Auth != "cram-md5" {
		a.AllowPlaintext = true
		a.keyNote("allow-plaintext", "the offlineimap config sent the password without TLS (ssl = no, starttls = no)")
	}
	if a.TLS == "none" {
		for _, k := range []*string{&a.CAFile, &a.Fingerprint} {
			if *k != "" {
				a.note(Note{Key: "ssl", Value: "no", Attention: true, Text: "ca-file and fingerprint have no effect without TLS: dropped " + *k})
				*k = ""
			}
		}
	}
	if a.Host == "" && a.Disabled == "" {
		a.Disabled = "the remote repository has no remotehost"
	}
	if a.User == "" && a.Disabled == "" {
		a.Disabled = "the remote repository has no remoteuser"
	}
	return nil
}

// local maps the Maildir repository.
func (m *oiImport) local(a *Account, s *iniSection) error {
	typ, err := m.get(s, "type")
	if err != nil {
		return err
	}
	if typ == nil {
		return lineError(m.f.path, s.line, "[%s] has no type", s.name)
	}
	if typ.value != "Maildir" && typ.value != "GmailMaildir" {
		if a.Disabled == "" {
			a.Disabled = fmt.Sprintf("the local repository is of type %s: mailfetch syncs an IMAP server into a Maildir", typ.value)
		}
	}
	sep := "."
	folders := 0
	for _, raw := range s.options {
		o, err := m.get(s, raw.key)
		if err != nil {
			return err
		}
		switch o.key {
		case "type":
		case "localfolders":
			folders = o.line
			a.Maildir = localPath(expandVars(o.value), m.env)
			pathNote(a, o.key, a.Maildir, o.line)
		case "sep":
			sep = o.value
		case "readonly":
			if iniTrue(o.value) {
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Attention: true,
					Text: "mailfetch writes the server's changes into the Maildir"})
			}
		case "sync_deletes":
			a.note(Note{Key: o.key, Value: o.value, Line: o.line, Attention: true,
				Text: "mailfetch never deletes on the server what was deleted in the Maildir unless expunge-remote = true"})
		case "utime_from_header", "filename_use_mail_timestamp":
			a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch sets each file's time from the server's INTERNALDATE"})
		case "restoreatime":
			a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "no equivalent in mailfetch"})
		default:
			if strings.HasPrefix(o.key, "customflag_") {
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "no equivalent: mailfetch keeps the flags D F P R S T (and letters other programs set)"})
				continue
			}
			a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "no equivalent in mailfetch"})
		}
	}
	if a.Maildir == "" && a.Disabled == "" {
		a.Disabled = "the local repository has no localfolders"
	}
	if sep == "/" {
		a.Layout = "fs"
	}
	text := "offlineimap kept each folder in a directory named after it (INBOX in INBOX/, A/B in A" + sep + "B/); "
	if sep == "/" {
		text += "mailfetch keeps the others the same way (layout fs) but INBOX in the root of maildir, so the messages of INBOX are new to it"
	} else {
		text += "mailfetch keeps INBOX in the root of maildir and the others as .A.B/ (Maildir++), so all their messages are new to it"
	}
	a.note(Note{Key: "localfolders", Value: a.Maildir, Line: folders, Attention: true,
		Text: text + " (--dry-run shows what the first run fetches)"})
	return nil
}

// iniTrue reports whether a configparser boolean is true.
func iniTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}
