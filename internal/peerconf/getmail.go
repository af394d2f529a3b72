package peerconf

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// getmail6's rc files (getmail configuration, /usr/share/doc/getmail6):
// one account per file, in configparser's format without interpolation:
// [retriever] (type, server, username, password or password_command, ...),
// [destination] (type Maildir with path, MDA_external with path and
// arguments, ...), [options] (delete, read_all, ...), and [filter-*].
// Tuples are Python literals: ("a", "b").

// getmailRetrievers maps a retriever type to protocol, implicit TLS, and
// a remark for the kinds mailfetch handles differently.
var getmailRetrievers = map[string]struct {
	protocol string
	ssl      bool
	remark   string
}{
	"SimplePOP3Retriever":        {"pop3", false, ""},
	"SimplePOP3SSLRetriever":     {"pop3", true, ""},
	"BrokenUIDLPOP3Retriever":    {"pop3", false, "broken"},
	"BrokenUIDLPOP3SSLRetriever": {"pop3", true, "broken"},
	"MultidropPOP3Retriever":     {"pop3", false, "multidrop"},
	"MultidropPOP3SSLRetriever":  {"pop3", true, "multidrop"},
	"MultidropSDPSRetriever":     {"pop3", false, "sdps"},
	"SimpleIMAPRetriever":        {"imap", false, ""},
	"SimpleIMAPSSLRetriever":     {"imap", true, ""},
	"MultidropIMAPRetriever":     {"imap", false, "multidrop"},
	"MultidropIMAPSSLRetriever":  {"imap", true, "multidrop"},
}

func importGetmail(files []string, data [][]byte, env Env) (*Result, error) {
	res := &Result{Peer: "getmail", Files: files}
	for i, file := range files {
		f, err := parseINI(file, data[i])
		if err != nil {
			return nil, err
		}
		a, err := getmailConvert(f, env)
		if err != nil {
			return nil, err
		}
		res.Accounts = append(res.Accounts, a)
	}
	disableDuplicates(res.Accounts)
	uniqueNames(res.Accounts)
	return res, nil
}

// getmailBool reads a boolean as getmail does (configparser's words).
func getmailBool(f *iniFile, o *iniOption) (bool, error) {
	switch strings.ToLower(o.value) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, lineError(f.path, o.line, "%s must be true or false, not %q", o.key, clip(o.value))
}

func getmailInt(f *iniFile, o *iniOption) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(o.value), 10, 64)
	if err != nil {
		return 0, lineError(f.path, o.line, "%s must be an integer, not %q", o.key, clip(o.value))
	}
	return n, nil
}

func getmailTuple(f *iniFile, o *iniOption) ([]string, error) {
	items, err := pyStringTuple(o.value)
	if err != nil {
		return nil, lineError(f.path, o.line, "%s: %v", o.key, err)
	}
	return items, nil
}

// getmailPath expands a path as getmail does (~, ~user, $HOME) as far as the
// import can.
func getmailPath(p string, env Env) string { return localPath(expandVars(p), env) }

func getmailConvert(f *iniFile, env Env) (*Account, error) {
	ret := f.section("retriever")
	if ret == nil {
		return nil, lineError(f.path, 0, "no [retriever] section: is it a getmail rc file?")
	}
	typ := ret.get("type")
	if typ == nil {
		return nil, lineError(f.path, ret.line, "[retriever] has no type")
	}
	kind, ok := getmailRetrievers[typ.value]
	if !ok {
		return nil, lineError(f.path, typ.line, "unknown retriever type %q", typ.value)
	}
	name := strings.TrimLeft(strings.TrimPrefix(filepath.Base(f.path), "getmailrc"), "-_.")
	a := &Account{Protocol: kind.protocol, Source: fmt.Sprintf("%s ([retriever] type %s)", f.path, typ.value)}
	note := func(o *iniOption, text string, attention bool) {
		a.note(Note{Key: o.key, Value: o.value, Hidden: secretKey(o.key), Line: o.line, Text: text, Attention: attention})
	}
	a.TLS = "none"
	if kind.ssl {
		a.TLS = "implicit"
	}
	switch kind.remark {
	case "broken":
		a.note(Note{Key: "type", Value: typ.value, Line: typ.line, Attention: true,
			Text: "for a server without working UIDLs: mailfetch needs UIDL to fetch each message once with keep"})
	case "multidrop":
		a.note(Note{Key: "type", Value: typ.value, Line: typ.line, Attention: true,
			Text: "a multidrop mailbox: mailfetch delivers all of it to this account's one destination"})
	case "sdps":
		a.Disabled = "mailfetch does not speak SDPS"
	}
	var password, passwordCommand *iniOption
	var deleteOpt, deleteAfter, readAll *iniOption
	cramMD5, xoauth2, apop, caGiven := false, false, false, false
	for _, o := range ret.options {
		switch o.key {
		case "type":
		case "server":
			a.Host = o.value
		case "port":
			n, err := getmailInt(f, o)
			if err != nil {
				return nil, err
			}
			a.Port = int(n)
		case "username":
			a.User = o.value
		case "password":
			password = o
		case "password_command":
			passwordCommand = o
		case "use_apop":
			b, err := getmailBool(f, o)
			if err != nil {
				return nil, err
			}
			apop = b
		case "use_cram_md5":
			b, err := getmailBool(f, o)
			if err != nil {
				return nil, err
			}
			cramMD5 = b
		case "use_xoauth2":
			b, err := getmailBool(f, o)
			if err != nil {
				return nil, err
			}
			xoauth2 = b
		case "mailboxes":
			if kind.protocol != "imap" {
				note(o, "POP3 has no folders", false)
				continue
			}
			if o.value == "ALL" {
				a.Folders = []string{"*"}
			} else {
				items, err := getmailTuple(f, o)
				if err != nil {
					return nil, err
				}
				for _, it := range items {
					if strings.ContainsAny(it, "*%") || strings.HasPrefix(it, "!") {
						note(o, "mailfetch reads *, % and a leading ! in folders as patterns: check "+it, true)
					}
				}
				a.Folders = items
			}
			a.keyNote("folders", fmt.Sprintf("mailboxes (line %d)", o.line))
		case "ca_certs":
			caGiven = true
			if slices.Contains(systemBundles, o.value) || strings.TrimRight(o.value, "/") == "/etc/ssl/certs" {
				note(o, "the system's own CA certificates: mailfetch trusts the system roots without a ca-file", false)
				continue
			}
			a.CAFile = getmailPath(o.value, env)
			pathNote(a, o.key, a.CAFile, o.line)
		case "ssl_fingerprints":
			items, err := getmailTuple(f, o)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				a.setFingerprint(o.key, it, o.line)
			}
		case "timeout":
			n, err := getmailInt(f, o)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				a.Timeout = secondsDuration(int(n))
			}
		case "keyfile", "certfile":
			note(o, "no equivalent: mailfetch does not send client certificates", true)
		case "ssl_version", "ssl_ciphers":
			note(o, "no equivalent: mailfetch uses TLS 1.2 or later with Go's cipher suites", false)
		case "ssl_cert_hostname":
			note(o, "no equivalent: mailfetch checks the certificate against host, or pins it with fingerprint", true)
		case "use_peek":
			note(o, "mailfetch always fetches with BODY.PEEK[]: the server's \\Seen flag is not touched", false)
		case "move_on_delete", "imap_on_delete", "imap_search":
			note(o, "no equivalent: mailfetch's IMAP sync mirrors every message of the folders and deletes nothing on the server", true)
		case "record_mailbox":
			note(o, "mailfetch adds no header: each folder is a folder of the Maildir", false)
		case "use_kerberos":
			note(o, "no equivalent: mailfetch does not speak Kerberos (GSSAPI)", true)
		case "envelope_recipient":
			note(o, "a multidrop setting: mailfetch delivers everything to one destination", false)
		case "delete_dup_msgids":
			note(o, "no equivalent: mailfetch fetches every message once by its UIDL", false)
		default:
			note(o, "not a retriever option this import knows: check it by hand", false)
		}
	}
	if a.Host == "" {
		return nil, lineError(f.path, ret.line, "[retriever] has no server")
	}
	if a.User == "" {
		return nil, lineError(f.path, ret.line, "[retriever] has no username")
	}
	if name == "" {
		name = a.Host
	}
	a.Name = name
	if a.Port == 0 {
		a.Port = map[string]map[bool]int{"pop3": {true: 995, false: 110}, "imap": {true: 993, false: 143}}[a.Protocol][kind.ssl]
	}
	switch {
	case passwordCommand != nil:
		argv, err := getmailTuple(f, passwordCommand)
		if err != nil {
			return nil, err
		}
		if len(argv) == 0 {
			return nil, lineError(f.path, passwordCommand.line, "password_command is an empty tuple")
		}
		if password != nil {
			note(password, "getmail used password, not password_command, when both are set; mailfetch uses password_command", true)
		}
		a.PasswordCommand = shellJoin(argv)
		a.keyNote("password-command", "password_command (line "+strconv.Itoa(passwordCommand.line)+"), its words quoted for sh -c")
	case password != nil:
		a.plaintextHint("getmail", "password", password.line)
	}
	switch {
	case xoauth2:
		a.Auth = "xoauth2"
		a.keyNote("auth", "use_xoauth2: password-command must print an access token, as getmail-gmail-xoauth-tokens does")
	case cramMD5:
		a.Auth = "cram-md5"
	case apop && a.Protocol == "pop3":
		a.Auth = "apop"
	default:
		a.Auth = "auto"
	}
	if a.TLS == "none" {
		if a.Auth == "auto" || a.Auth == "xoauth2" {
			a.AllowPlaintext = true
			a.keyNote("tls", "getmail's "+typ.value+" has no TLS and no STARTTLS: if the server offers STARTTLS, write tls = \"starttls\" and remove allow-plaintext")
			a.keyNote("allow-plaintext", "the getmail config sent the password without TLS")
		}
	} else if !caGiven && a.Fingerprint == "" {
		a.keyNote("tls", "getmail did not check the server's certificate without ca_certs; mailfetch checks it against the system roots (for a self-signed one, pin it with fingerprint)")
	}

	if err := getmailDestination(f, a, env); err != nil {
		return nil, err
	}
	if opts := f.section("options"); opts != nil {
		for _, o := range opts.options {
			switch o.key {
			case "delete", "read_all":
				if _, err := getmailBool(f, o); err != nil {
					return nil, err
				}
				if o.key == "delete" {
					deleteOpt = o
				} else {
					readAll = o
				}
			case "delete_after":
				if _, err := getmailInt(f, o); err != nil {
					return nil, err
				}
				deleteAfter = o
			case "max_message_size":
				n, err := getmailInt(f, o)
				if err != nil {
					return nil, err
				}
				if a.Protocol == "pop3" {
					a.MaxSize = n
				} else if n > 0 {
					note(o, "mailfetch's IMAP sync has no size limit", true)
				}
			case "max_messages_per_session":
				n, err := getmailInt(f, o)
				if err != nil {
					return nil, err
				}
				if a.Protocol == "pop3" {
					a.MaxMessages = int(n)
				} else if n > 0 {
					note(o, "mailfetch's IMAP sync has no count limit", false)
				}
			case "delete_bigger_than":
				note(o, "no equivalent: mailfetch deletes by keep and delete-after only", true)
			case "max_bytes_per_session":
				note(o, "no equivalent: mailfetch has max-messages and max-size", false)
			case "to_oldmail_on_each_mail":
				note(o, "mailfetch journals each message as it is delivered, always", false)
			case "delivered_to", "received":
				note(o, "mailfetch adds no header to the messages", false)
			case "verbose":
				note(o, "mailfetch prints a summary; --quiet prints errors only, --verbose a line per message", false)
			case "message_log", "message_log_syslog", "message_log_verbose", "logfile":
				note(o, "mailfetch prints to standard error (--json for machine-readable output)", false)
			case "use_netrc", "netrc_file":
				note(o, "no equivalent: mailfetch does not read .netrc; use password-command", true)
			case "skip_imap_fetch_size", "fingerprint":
				note(o, "no equivalent in mailfetch", false)
			default:
				note(o, "not an option this import knows: check it by hand", false)
			}
		}
	}
	getmailDeletion(f, a, deleteOpt, deleteAfter, readAll)
	for _, s := range f.sections {
		if strings.HasPrefix(s.name, "filter") {
			a.note(Note{Key: "[" + s.name + "]", Line: s.line, Attention: true,
				Text: "no equivalent: mailfetch has no filters; an mda (such as procmail or maildrop) can filter"})
		}
	}
	if a.Protocol == "imap" {
		if a.Folders == nil {
			a.Folders = []string{"INBOX"}
			a.keyNote("folders", "getmail's default mailboxes: INBOX")
		}
		if len(a.Folders) != 1 || a.Folders[0] != "INBOX" {
			a.keyNote("folders", "getmail delivered every mailbox into its one destination; mailfetch keeps each folder as a folder of maildir")
		}
		folderSeparatorNote(a)
	}
	return a, nil
}

// getmailDeletion maps delete, delete_after and read_all.
func getmailDeletion(f *iniFile, a *Account, del, after, readAll *iniOption) {
	deleting := false
	if del != nil {
		deleting, _ = getmailBool(f, del)
	}
	days := int64(0)
	if after != nil {
		days, _ = getmailInt(f, after)
	}
	all := true
	if readAll != nil {
		all, _ = getmailBool(f, readAll)
	}
	if a.Protocol == "imap" {
		if deleting || days > 0 {
			o := del
			if o == nil || !deleting {
				o = after
			}
			a.note(Note{Key: o.key, Value: o.value, Line: o.line, Attention: true,
				Text: "getmail deleted the IMAP messages it fetched; mailfetch's IMAP sync mirrors the folders and leaves the mail on the server"})
		}
		if readAll != nil {
			a.note(Note{Key: readAll.key, Value: readAll.value, Line: readAll.line, Text: "mailfetch's IMAP sync fetches each message once"})
		}
		return
	}
	keep := !deleting
	a.Keep = &keep
	switch {
	case del == nil:
		a.keyNote("keep", "getmail's default, delete = false, leaves the mail on the server")
	default:
		a.keyNote("keep", fmt.Sprintf("delete = %s (line %d)", del.value, del.line))
	}
	if keep && days > 0 {
		a.DeleteAfter = int(days)
	}
	if keep && all {
		v, line := "true (the default)", 0
		if readAll != nil {
			v, line = readAll.value, readAll.line
		}
		a.note(Note{Key: "read_all", Value: v, Line: line,
			Text: "getmail fetched every message on the server again at each run; mailfetch fetches each message once (mailfetch pop3 --all fetches all again)"})
	} else if readAll != nil && !all {
		a.note(Note{Key: readAll.key, Value: readAll.value, Line: readAll.line, Text: "the same in mailfetch: each message is fetched once"})
	}
}

// getmailDestination maps [destination]: a Maildir, an external MDA, or a
// MultiDestination of exactly one of these.
func getmailDestination(f *iniFile, a *Account, env Env) error {
	d := f.section("destination")
	if d == nil {
		return lineError(f.path, 0, "no [destination] section")
	}
	placeholder := func(why string, line int) {
		a.Maildir = "~/Mail/" + a.Name
		a.note(Note{Key: "[destination]", Line: line, Attention: true,
			Text: why + "; mailfetch delivers into a Maildir or through an mda only: mail goes to the new Maildir " + a.Maildir + " until you change maildir"})
	}
	for depth := 0; depth < 4; depth++ {
		typ := d.get("type")
		if typ == nil {
			return lineError(f.path, d.line, "[%s] has no type", d.name)
		}
		for _, o := range d.options {
			switch o.key {
			case "type", "path", "arguments", "destinations":
			case "user", "group", "allow_root_commands":
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "no equivalent: mailfetch delivers as the user running it"})
			case "locktype":
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch writes no mbox file"})
			case "filemode":
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch creates message files with mode 0600"})
			case "ignore_stderr", "pipe_stdout":
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "mailfetch judges an mda by its exit status only"})
			case "unixfrom":
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Attention: o.value != "false" && o.value != "0",
					Text: "no equivalent: mailfetch gives the mda the message without a From_ line"})
			default:
				a.note(Note{Key: o.key, Value: o.value, Line: o.line, Text: "not a destination option this import knows: check it by hand"})
			}
		}
		switch typ.value {
		case "Maildir":
			p := d.get("path")
			if p == nil {
				return lineError(f.path, d.line, "[%s] type Maildir has no path", d.name)
			}
			a.Maildir = getmailPath(p.value, env)
			pathNote(a, "path", a.Maildir, p.line)
			return nil
		case "MDA_external":
			p := d.get("path")
			if p == nil {
				return lineError(f.path, d.line, "[%s] type MDA_external has no path", d.name)
			}
			argv := []string{getmailPath(p.value, env)}
			if args := d.get("arguments"); args != nil {
				items, err := getmailTuple(f, args)
				if err != nil {
					return err
				}
				argv = append(argv, items...)
			}
			a.MDA = shellJoin(argv)
			a.keyNote("mda", fmt.Sprintf("[%s] path and arguments, quoted for sh -c", d.name))
			for _, ph := range []string{"%(sender)", "%(recipient)", "%(local)", "%(domain)", "%(mailbox)"} {
				if strings.Contains(a.MDA, ph) {
					mdaSenderNote(a, "arguments", a.MDA, p.line, ph)
				}
			}
			return nil
		case "MultiDestination":
			dests := d.get("destinations")
			if dests == nil {
				return lineError(f.path, d.line, "[%s] type MultiDestination has no destinations", d.name)
			}
			items, err := getmailTuple(f, dests)
			if err != nil {
				return err
			}
			if len(items) != 1 {
				placeholder(fmt.Sprintf("getmail delivered each message to %d destinations", len(items)), dests.line)
				return nil
			}
			dest := getmailPath(items[0], env)
			switch {
			case strings.HasPrefix(dest, "[") && strings.HasSuffix(dest, "]"):
				next := f.section(dest[1 : len(dest)-1])
				if next == nil {
					return lineError(f.path, dests.line, "destinations names %s, which is not a section", dest)
				}
				d = next
				continue
			case strings.HasSuffix(items[0], "/"):
				a.Maildir = dest
				pathNote(a, "destinations", a.Maildir, dests.line)
				return nil
			default:
				placeholder("getmail delivered to the mbox file "+dest, dests.line)
				return nil
			}
		case "Mboxrd":
			placeholder("getmail delivered to an mbox file", typ.line)
			return nil
		default:
			placeholder("getmail delivered with "+typ.value, typ.line)
			return nil
		}
	}
	return lineError(f.path, d.line, "destinations refer to each other too deeply")
}
