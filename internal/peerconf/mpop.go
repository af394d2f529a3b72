package peerconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// mpop's config (mpop(1), USAGE): one command per line with an optional
// argument, which may be in double quotes (only the outer quotes go; there
// are no escapes). Empty lines and lines whose first non-blank character is
// '#' are ignored; there are no comments after a command. "defaults" starts
// settings every later account starts from; "account NAME [: A,B]" starts
// an account that also inherits the settings of the accounts A and B.

type mpopOpt struct {
	cmd  string // lower case
	arg  string
	line int
}

type mpopAccount struct {
	name string
	line int
	opts []mpopOpt // in the order they were set, inherited ones first
}

// set records an option, replacing an earlier value of the same command.
func (a *mpopAccount) set(o mpopOpt) {
	a.opts = slices.DeleteFunc(a.opts, func(p mpopOpt) bool { return p.cmd == o.cmd })
	a.opts = append(a.opts, o)
}

// mpopCommands are the commands mpop 1.4 knows (besides account, defaults).
var mpopCommands = []string{
	"eval", "host", "port", "source_ip", "proxy_host", "proxy_port", "socket", "timeout", "pipelining",
	"auth", "user", "password", "passwordeval", "ntlmdomain", "tls", "tls_starttls", "tls_trust_file",
	"tls_crl_file", "tls_fingerprint", "tls_key_file", "tls_cert_file", "tls_certcheck", "tls_priorities",
	"tls_host_override", "tls_min_dh_prime_bits", "tls_force_sslv3", "tls_nocertcheck", "delivery",
	"uidls_file", "only_new", "keep", "killsize", "skipsize", "filter", "received_header",
}

func importMPOP(file string, data []byte, env Env) (*Result, error) {
	res := &Result{Peer: "mpop", Files: []string{file}}
	defaults := &mpopAccount{name: "defaults"}
	var accounts []*mpopAccount
	byName := map[string]*mpopAccount{}
	var cur *mpopAccount
	for i, raw := range splitLines(data) {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var cmd, arg string
		if j := strings.IndexAny(line, " \t"); j >= 0 {
			cmd, arg = line[:j], line[j+1:]
		} else {
			cmd, arg = line, ""
		}
		arg = strings.TrimSpace(arg)
		if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
			arg = arg[1 : len(arg)-1]
		}
		switch cmd {
		case "defaults":
			if arg != "" {
				return nil, lineError(file, n, "defaults takes no argument")
			}
			cur = defaults
			continue
		case "account":
			name, parents, hasParents := strings.Cut(arg, ":")
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, lineError(file, n, "account needs a name")
			}
			if byName[name] != nil {
				return nil, lineError(file, n, "account %s is defined twice", name)
			}
			cur = &mpopAccount{name: name, line: n, opts: slices.Clone(defaults.opts)}
			if hasParents {
				for _, p := range strings.Split(parents, ",") {
					p = strings.TrimSpace(p)
					parent := byName[p]
					if parent == nil {
						return nil, lineError(file, n, "account %s: no earlier account %q to inherit from", name, p)
					}
					for _, o := range parent.opts {
						cur.set(o)
					}
				}
			}
			accounts = append(accounts, cur)
			byName[name] = cur
			continue
		}
		if cur == nil {
			return nil, lineError(file, n, "the first command must be account or defaults, not %s", cmd)
		}
		cur.set(mpopOpt{cmd: cmd, arg: arg, line: n})
	}
	for _, ma := range accounts {
		res.Accounts = append(res.Accounts, mpopConvert(ma, env))
	}
	disableDuplicates(res.Accounts)
	uniqueNames(res.Accounts)
	return res, nil
}

// mpopOn reads an on/off argument; an empty one means on.
func mpopOn(arg string) (on, ok bool) {
	switch strings.ToLower(arg) {
	case "", "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}

func mpopConvert(ma *mpopAccount, env Env) *Account {
	a := &Account{Name: ma.name, Protocol: "pop3", Source: fmt.Sprintf("account %s (line %d)", ma.name, ma.line)}
	note := func(o mpopOpt, text string, attention bool) {
		a.note(Note{Key: o.cmd, Value: o.arg, Hidden: secretKey(o.cmd), Line: o.line, Text: text, Attention: attention})
	}
	onOff := func(o mpopOpt) bool {
		on, ok := mpopOn(o.arg)
		if !ok {
			note(o, "neither on nor off: read as off", true)
		}
		return on
	}
	tls, starttls := false, true
	tlsSet := false
	var auth mpopOpt
	for _, o := range ma.opts {
		switch o.cmd {
		case "host":
			a.Host = o.arg
		case "port":
			p, err := strconv.Atoi(o.arg)
			if err != nil || p < 1 || p > 65535 {
				note(o, "not a port number: the default port is used", true)
				continue
			}
			a.Port = p
		case "user":
			a.User = o.arg
		case "password":
			if o.arg != "" {
				a.plaintextHint("mpop", "password", o.line)
			}
		case "passwordeval":
			a.PasswordCommand = o.arg
		case "auth":
			auth = o
		case "tls":
			tls, tlsSet = onOff(o), true
		case "tls_starttls":
			starttls = onOff(o)
		case "tls_trust_file":
			switch o.arg {
			case "system":
			case "":
				note(o, "mpop trusted no CA, only tls_fingerprint; mailfetch does the same when fingerprint is set", false)
			default:
				if slices.Contains(systemBundles, o.arg) {
					note(o, "the system's own CA bundle: mailfetch trusts the system roots without a ca-file", false)
					continue
				}
				a.CAFile = localPath(o.arg, env)
				pathNote(a, o.cmd, a.CAFile, o.line)
			}
		case "tls_fingerprint":
			if o.arg != "" {
				a.setFingerprint(o.cmd, o.arg, o.line)
			}
		case "tls_certcheck":
			if on, _ := mpopOn(o.arg); !on {
				note(o, "mailfetch always checks the server certificate (against the system roots, ca-file or fingerprint)", true)
			}
		case "tls_nocertcheck":
			note(o, "mailfetch always checks the server certificate (against the system roots, ca-file or fingerprint)", true)
		case "delivery":
			mpopDelivery(a, o, env)
		case "keep":
			k := onOff(o)
			a.Keep = &k
		case "only_new":
			if on, _ := mpopOn(o.arg); !on {
				note(o, "mpop processed every message each time; mailfetch fetches each message once (mailfetch pop3 --all fetches all again)", true)
			} else {
				note(o, "the same in mailfetch: each message is fetched once", false)
			}
		case "skipsize":
			size, ok := mpopSize(o.arg)
			switch {
			case !ok:
				note(o, "not a size: no limit is set", true)
			case size > 0:
				a.MaxSize = size
			}
		case "killsize":
			note(o, "no equivalent: mailfetch never deletes a message it did not fetch", true)
		case "timeout":
			sec, err := strconv.Atoi(o.arg)
			if err != nil || sec <= 0 {
				note(o, "mailfetch always has a timeout: its default, 60s, is used", false)
				continue
			}
			a.Timeout = time.Duration(sec) * time.Second
		case "uidls_file":
			note(o, "mailfetch keeps the UIDLs it fetched in its own state (state-dir)", false)
		case "eval":
			// The command may print a secret, and may hold one.
			a.note(Note{Key: o.cmd, Value: o.arg, Hidden: strings.Contains(strings.ToLower(o.arg), "pass"), Line: o.line, Attention: true,
				Text: "not run by the import: write the line it prints into the mpop config, then import again"})
		case "pipelining":
			note(o, "mailfetch pipelines when the server announces PIPELINING", false)
		case "received_header":
			note(o, "mailfetch does not add a Received header", false)
		case "filter":
			note(o, "no equivalent: mailfetch has no filter command", true)
		case "tls_key_file", "tls_cert_file":
			note(o, "no equivalent: mailfetch does not send client certificates", true)
		case "proxy_host", "proxy_port", "socket", "source_ip":
			note(o, "no equivalent: mailfetch connects to host and port directly", true)
		case "tls_priorities", "tls_min_dh_prime_bits", "tls_force_sslv3", "tls_crl_file":
			note(o, "no equivalent: mailfetch uses Go's TLS 1.2 or later", false)
		case "tls_host_override":
			note(o, "no equivalent: mailfetch checks the certificate against host (or pins it with fingerprint)", true)
		case "ntlmdomain":
			note(o, "no equivalent: mailfetch does not speak NTLM", false)
		default:
			text := "not an mpop command this import knows: check it by hand"
			note(o, text, !slices.Contains(mpopCommands, o.cmd))
		}
	}
	switch {
	case !tls:
		a.TLS = "none"
	case starttls:
		a.TLS = "starttls"
	default:
		a.TLS = "implicit"
	}
	if !tlsSet {
		a.keyNote("tls", "the mpop config does not set tls, and mpop 1.4.18 and earlier default to off; if your mpop used TLS, write tls = \"starttls\"")
	}
	if a.Port == 0 {
		a.Port = 110
		if a.TLS == "implicit" {
			a.Port = 995
		}
	}
	if a.TLS == "none" {
		for _, k := range []*string{&a.CAFile, &a.Fingerprint} {
			if *k != "" {
				a.note(Note{Key: "tls", Value: "off", Attention: true, Text: "ca-file and fingerprint have no effect without TLS: dropped " + *k})
				*k = ""
			}
		}
	}
	mpopAuth(a, auth, tlsSet)
	if a.Host == "" {
		a.Disabled = "it has no host"
	}
	if a.User == "" && a.Disabled == "" {
		a.Disabled = "it has no user"
	}
	if a.Maildir == "" && a.MDA == "" && a.Disabled == "" {
		a.Disabled = "it has no delivery"
	}
	return a
}

// mpopAuth maps auth, and whether the password may travel without TLS: mpop's
// automatic choice never sends it in clear without TLS; a method named
// explicitly does what it says.
func mpopAuth(a *Account, o mpopOpt, tlsSet bool) {
	method := strings.ToLower(o.arg)
	if o.cmd == "" || method == "" || method == "on" {
		a.Auth = "auto"
	} else if v := mailfetchMech(method, "pop3"); v != "" {
		a.Auth = v
	} else {
		a.Auth = "auto"
		a.note(Note{Key: o.cmd, Value: o.arg, Line: o.line, Attention: true,
			Text: "mailfetch does not speak this method; it chooses among user, plain, login, cram-md5 and apop (auto)"})
	}
	if a.TLS != "none" {
		return
	}
	switch a.Auth {
	case "user", "plain", "login", "xoauth2", "oauthbearer":
		a.AllowPlaintext = true
		a.keyNote("allow-plaintext", "the mpop config sent the password without TLS (tls off, auth "+o.arg+")")
	case "auto":
		v := "off"
		if !tlsSet {
			v = "off (the default)"
		}
		a.note(Note{Key: "tls", Value: v, Raw: true, Attention: true,
			Text: "with TLS off mpop chose only methods that do not send the password in clear; mailfetch needs tls = \"starttls\" or \"implicit\", " +
				"auth = \"apop\" or \"cram-md5\", or allow-plaintext = true before it will log in"})
	}
}

// mpopSize reads a size with an optional k or m (KiB, MiB); "off" is 0.
func mpopSize(s string) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "off" {
		return 0, true
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1024, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1024*1024, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return 0, false
	}
	return n * mult, true
}

func mpopDelivery(a *Account, o mpopOpt, env Env) {
	method, arg, _ := strings.Cut(o.arg, " ")
	arg = strings.TrimSpace(arg)
	if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
		arg = arg[1 : len(arg)-1]
	}
	switch strings.ToLower(method) {
	case "maildir":
		a.Maildir = localPath(arg, env)
		pathNote(a, "delivery maildir", a.Maildir, o.line)
	case "mda":
		a.MDA = arg
		mdaSenderNote(a, "delivery mda", arg, o.line, "%F")
	default:
		a.Maildir = "~/Mail/" + a.Name
		a.note(Note{Key: o.cmd, Value: o.arg, Line: o.line, Attention: true,
			Text: "mailfetch delivers into a Maildir or through an mda only: mail goes to the new Maildir " + a.Maildir + " until you change maildir"})
	}
}

// mdaSenderNote warns about an envelope-sender placeholder in an MDA
// command, which mailfetch does not replace.
func mdaSenderNote(a *Account, key, cmd string, line int, placeholder string) {
	if strings.Contains(cmd, placeholder) {
		a.keyNote("mda", fmt.Sprintf("the %s command (line %d) uses %s, the envelope sender, which mailfetch does not replace: "+
			"remove it (procmail and sendmail read the sender from the message without -f) or the command gets %s literally", key, line, placeholder, placeholder))
		a.note(Note{Key: key, Value: cmd, Line: line, Attention: true, Text: "mailfetch passes no envelope sender: edit " + placeholder + " out of mda"})
	}
}

// disableDuplicates comments out an account that reads the same mailbox
// (host, port and user) as an earlier one: two mailfetch accounts keep two
// states and would fetch every message twice.
func disableDuplicates(accounts []*Account) {
	type mailbox struct {
		protocol, host, user string
		port                 int
	}
	first := map[mailbox]*Account{}
	for _, a := range accounts {
		if a.Disabled != "" {
			continue
		}
		k := mailbox{a.Protocol, strings.ToLower(a.Host), a.User, a.Port}
		if b, ok := first[k]; ok {
			a.Disabled = fmt.Sprintf("it reads the same mailbox as account %q (%s@%s): two accounts would fetch every message twice", b.Name, a.User, a.Host)
			continue
		}
		first[k] = a
	}
}
