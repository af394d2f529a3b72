package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// Protocols.
const (
	ProtocolPOP3 = "pop3"
	ProtocolIMAP = "imap"
)

// TLS modes, as transport.ParseTLSMode reads them.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// Maildir layouts, as maildir.ParseLayout reads them.
const (
	LayoutMaildirPP = "maildir++"
	LayoutFS        = "fs"
)

// Defaults of the settings that have one.
const (
	DefaultTimeout         = 60 * time.Second
	DefaultPasswordTimeout = 30 * time.Second
	// DefaultDeadline bounds a whole run. Generous, since it only has to
	// end a run that would otherwise never end: a first sync of 10 GB over
	// a 10 Mbit/s line takes two hours and a quarter, and one stopped by the
	// deadline loses nothing (the next run goes on where it stopped), while
	// every cron run meanwhile finds the account locked (exit 4).
	DefaultDeadline = 2 * time.Hour
	// DefaultFailAfter is how long temporary failures may go on before a
	// run says the account is unavailable (exit 69): longer than the
	// outages and maintenance windows that end by themselves, short enough
	// that a mailbox which fetched nothing for a day gets a look.
	DefaultFailAfter = 24 * time.Hour
	DefaultJobs      = 4
	// MaxJobs bounds parallel IMAP connections: servers limit connections
	// per user and address (Dovecot: 10 by default), and a sync that hits
	// the limit fails folders instead of going faster.
	MaxJobs = 8
)

// Disabled is the value of Deadline and FailAfter that turns them off: no
// deadline, never unavailable. It is what 0 in the file or on the command
// line becomes (a zero field means "not set", and takes the default).
const Disabled time.Duration = -1

var (
	protocols = []string{ProtocolPOP3, ProtocolIMAP}
	tlsModes  = []string{TLSImplicit, TLSStartTLS, TLSNone}
	layouts   = []string{LayoutMaildirPP, LayoutFS}
	authPOP3  = []string{"auto", "user", "plain", "login", "cram-md5", "xoauth2", "oauthbearer", "apop"}
	authIMAP  = []string{"auto", "plain", "login", "cram-md5", "xoauth2", "oauthbearer"}
)

// Account is one mail account: where the server is, how to log in, and where
// the mail goes. Load returns accounts with defaults applied and validated;
// an account built by hand (from command-line flags) goes through Finish.
//
// The string-typed enumerations hold lower-case values of the constants
// above; the CLI converts them with transport.ParseTLSMode and
// maildir.ParseLayout.
type Account struct {
	Name     string // the NAME of [account.NAME]
	Protocol string // ProtocolPOP3 or ProtocolIMAP
	Host     string
	Port     int    // 0 before ApplyDefaults: derived from Protocol and TLS
	TLS      string // TLSImplicit, TLSStartTLS or TLSNone

	CAFile         string // PEM roots to trust instead of the system's
	Fingerprint    string // pinned SHA-256 of the server certificate: 64 lower-case hex digits
	AllowPlaintext bool   // allow credentials over a connection without TLS

	User string
	Auth string // auto, user (pop3), plain, login, cram-md5, xoauth2, oauthbearer, apop (pop3)

	// Password sources, used by Secret in this order.
	PasswordCommand string
	PasswordFile    string
	PasswordEnv     string
	Password        string `json:"-"`
	// PasswordTimeout bounds PasswordCommand's run.
	PasswordTimeout time.Duration

	Maildir  string // the Maildir's root; "" when MDA is set
	Layout   string // LayoutMaildirPP or LayoutFS
	MDA      string // sh -c command that takes each message on stdin, instead of Maildir
	StateDir string // the account's state and lock
	Timeout  time.Duration
	// Deadline bounds the whole run, from its start: when it passes, the
	// run stops as on Ctrl-C and exits 75. Disabled: no deadline.
	Deadline time.Duration
	// FailAfter is how long consecutive temporary failures of the account
	// may last before a run exits 69 (unavailable) instead of 75.
	// Disabled: never.
	FailAfter time.Duration

	// POP3 only.
	Keep        bool
	DeleteAfter int // days; with Keep
	MaxSize     int64
	MaxMessages int

	// IMAP only.
	Folders       []string
	Jobs          int
	ExpungeRemote bool

	// derivedPort is the Port that ApplyDefaults derived (0 when Port was
	// given), so that a later change of TLS, by a command-line flag after
	// Load, derives it again instead of keeping the old mode's port.
	derivedPort int
}

// String describes the account for messages. It never shows the password,
// which is why Account has it: %v of an Account is safe to log.
func (a Account) String() string {
	return fmt.Sprintf("account %q (%s %s)", a.Name, a.Protocol, a.Addr())
}

// GoString keeps %#v from printing the password too.
func (a Account) GoString() string { return a.String() }

// Addr is the server's address, "host:port", for net.Dial.
func (a *Account) Addr() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// LockPath is the account's lock file: StateDir/lock.
func (a *Account) LockPath() string { return filepath.Join(a.StateDir, "lock") }

// DefaultPort is the standard port of protocol with the TLS mode, as
// transport.DefaultPort gives it: implicit TLS has a port of its own (RFC
// 8314), STARTTLS and no TLS share the plain-text one. It returns 0 for an
// unknown protocol.
func DefaultPort(protocol, tls string) int {
	mode, err := transport.ParseTLSMode(tls)
	if err != nil {
		mode = transport.TLSNone // refused by Validate
	}
	return transport.DefaultPort(protocol, mode)
}

// Finish applies the defaults and validates: what every account built
// outside Load (from flags) goes through, and what an account loaded from a
// file and then changed (by flags) goes through again.
func (a *Account) Finish() error {
	a.ApplyDefaults()
	return a.Validate()
}

// ApplyDefaults fills in every setting left unset, normalises case and
// fingerprints, expands a leading ~/ in paths and makes them absolute. It is
// idempotent.
//
// A port that ApplyDefaults derived is derived again on the next call, so
// that changing TLS after Load also changes a port the file did not set; a
// port set to anything else is kept.
func (a *Account) ApplyDefaults() {
	a.Protocol = normalWord(a.Protocol)
	a.TLS = normalWord(a.TLS)
	a.Auth = normalWord(a.Auth)
	a.Layout = normalWord(a.Layout)
	a.Host = strings.TrimSpace(a.Host)
	a.Fingerprint = normalFingerprint(a.Fingerprint)
	if a.TLS == "" {
		a.TLS = TLSImplicit
	}
	if a.Port == 0 || (a.derivedPort != 0 && a.Port == a.derivedPort) {
		a.Port = DefaultPort(a.Protocol, a.TLS)
		a.derivedPort = a.Port
	} else {
		a.derivedPort = 0
	}
	if a.Auth == "" {
		a.Auth = "auto"
	}
	if a.Layout == "" {
		a.Layout = LayoutMaildirPP
	}
	if a.Timeout == 0 {
		a.Timeout = DefaultTimeout
	}
	if a.PasswordTimeout == 0 {
		a.PasswordTimeout = DefaultPasswordTimeout
	}
	if a.Deadline == 0 {
		a.Deadline = DefaultDeadline
	}
	if a.FailAfter == 0 {
		a.FailAfter = DefaultFailAfter
	}
	if a.StateDir == "" && validName(a.Name) == "" {
		a.StateDir = DefaultStateDir(a.Name)
	}
	for _, p := range []*string{&a.CAFile, &a.PasswordFile, &a.Maildir, &a.StateDir} {
		*p = absPath(expandHome(*p))
	}
	if a.Protocol == ProtocolIMAP {
		if a.Folders == nil {
			a.Folders = []string{"*"}
		}
		if a.Jobs == 0 {
			a.Jobs = DefaultJobs
		}
	}
}

func normalWord(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// normalFingerprint accepts the forms tools print ("AB:CD:...", with a
// "SHA256:" or "sha256/" prefix as openssl and browsers show it) and keeps
// plain lower-case hex, which is what the transport compares. Anything that
// is not hex afterwards is left for Validate to report.
func normalFingerprint(s string) string {
	s = strings.TrimSpace(s)
	for _, prefix := range []string{"sha256:", "sha-256:", "sha256/", "sha256 fingerprint=", "sha256="} {
		if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			s = s[len(prefix):]
			break
		}
	}
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
}

// absPath makes a relative path absolute against the working directory, so
// that the account means the same after a chdir and error messages show the
// real place. "" and a path starting with an unexpanded ~ stay as they are:
// Validate reports the latter.
func absPath(p string) string {
	if p == "" || strings.HasPrefix(p, "~") {
		return p
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p) // so that equal places compare equal
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// Validate reports every problem of the account, one per line, each naming
// the account and the key, as a failure.Usage error. Call it after
// ApplyDefaults (or use Finish).
func (a *Account) Validate() error {
	ps := a.problems()
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = fmt.Errorf("account %q: %s", a.Name, p.msg)
	}
	return failure.Wrap(failure.Usage, errors.Join(errs...))
}

// problem is one thing wrong with an account: key names the setting, so
// that Load can point at its line.
type problem struct {
	key string
	msg string
}

func (a *Account) problems() []problem {
	var ps []problem
	add := func(key, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Sprintf(format, args...)})
	}

	if msg := validName(a.Name); msg != "" {
		add("", "%s", msg)
	}

	switch {
	case a.Protocol == "":
		add("protocol", "protocol is required: %s", oneOf(protocols))
	case !slices.Contains(protocols, a.Protocol):
		add("protocol", "protocol %q is not valid: use %s", a.Protocol, oneOf(protocols))
	}

	switch {
	case a.Host == "":
		add("host", "host is required")
	case strings.Contains(a.Host, "://") || strings.ContainsAny(a.Host, "/ \t[]"):
		add("host", "host %q is not a host name or address: write only the name, such as \"mail.example.com\"", a.Host)
	default:
		if h, p, err := net.SplitHostPort(a.Host); err == nil {
			add("host", "host %q includes a port: write host = %q and port = %s", a.Host, h, p)
		}
	}

	// An unknown protocol has no default port: say so once, under protocol.
	if (a.Port < 1 || a.Port > 65535) && (a.Port != 0 || slices.Contains(protocols, a.Protocol)) {
		add("port", "port %d is out of range (1-65535)", a.Port)
	}

	tlsValid := slices.Contains(tlsModes, a.TLS)
	if !tlsValid {
		add("tls", "tls %q is not valid: use %s", a.TLS, oneOf(tlsModes))
	}
	if a.TLS == TLSNone {
		if a.CAFile != "" {
			add("ca-file", "ca-file has no effect with tls = \"none\": use tls = \"implicit\" or \"starttls\"")
		}
		if a.Fingerprint != "" {
			add("fingerprint", "fingerprint has no effect with tls = \"none\": use tls = \"implicit\" or \"starttls\"")
		}
		// APOP and CRAM-MD5 prove the password without sending it.
		if !a.AllowPlaintext && a.Auth != "apop" && a.Auth != "cram-md5" {
			add("tls", "tls = \"none\" would send the password in clear: use tls = \"implicit\" or \"starttls\", or set allow-plaintext = true to accept that")
		}
	}
	if a.Fingerprint != "" {
		if b, err := hex.DecodeString(a.Fingerprint); err != nil || len(b) != 32 {
			add("fingerprint", "fingerprint must be the certificate's SHA-256 as 64 hex digits (colons allowed), such as `openssl x509 -noout -fingerprint -sha256` prints")
		}
	}

	if a.User == "" {
		add("user", "user is required")
	}
	auths := authPOP3
	if a.Protocol == ProtocolIMAP {
		auths = authIMAP
	}
	switch {
	case a.Protocol == ProtocolIMAP && slices.Contains(authPOP3, a.Auth) && !slices.Contains(authIMAP, a.Auth):
		add("auth", "auth %q is for pop3 accounts only: use %s", a.Auth, oneOf(authIMAP))
	case !slices.Contains(auths, a.Auth):
		add("auth", "auth %q is not valid: use %s", a.Auth, oneOf(auths))
	}
	if strings.ContainsAny(a.PasswordEnv, "= \t\x00") {
		add("password-env", "password-env %q is not an environment variable name", a.PasswordEnv)
	}
	if a.PasswordTimeout < 0 {
		add("password-timeout", "password-timeout %s must be positive", a.PasswordTimeout)
	}

	switch {
	case a.Maildir == "" && a.MDA == "":
		add("maildir", "maildir is required (or mda, to deliver through a command)")
	case a.Maildir != "" && a.MDA != "":
		add("mda", "maildir and mda are both set: set only one")
	}
	if !slices.Contains(layouts, a.Layout) {
		add("layout", "layout %q is not valid: use %s", a.Layout, oneOf(layouts))
	}
	if a.StateDir == "" && validName(a.Name) == "" {
		add("state-dir", "state-dir has no default: neither $XDG_STATE_HOME nor the home directory is known")
	}
	for _, p := range []struct{ key, path string }{
		{"ca-file", a.CAFile}, {"password-file", a.PasswordFile}, {"maildir", a.Maildir}, {"state-dir", a.StateDir},
	} {
		if strings.HasPrefix(p.path, "~") {
			add(p.key, "%s %q: only a leading ~/ is expanded, and only when the home directory is known", p.key, p.path)
		}
	}

	if a.Timeout < 0 {
		add("timeout", "timeout %s must be positive", a.Timeout)
	}
	if a.Deadline < 0 && a.Deadline != Disabled {
		add("deadline", "deadline %s must not be negative (0: no deadline)", a.Deadline)
	}
	if a.FailAfter < 0 && a.FailAfter != Disabled {
		add("fail-after", "fail-after %s must not be negative (0: never)", a.FailAfter)
	}

	switch a.Protocol {
	case ProtocolPOP3:
		if a.Folders != nil {
			add("folders", "folders applies to imap accounts only")
		}
		if a.Jobs != 0 {
			add("jobs", "jobs applies to imap accounts only")
		}
		if a.ExpungeRemote {
			add("expunge-remote", "expunge-remote applies to imap accounts only")
		}
		if a.DeleteAfter < 0 {
			add("delete-after", "delete-after %d must not be negative", a.DeleteAfter)
		}
		if a.DeleteAfter > 0 && !a.Keep {
			add("delete-after", "delete-after needs keep = true: without keep, mail is deleted on the server as soon as it is fetched")
		}
		if a.MaxSize < 0 {
			add("max-size", "max-size %d must not be negative (0: no limit)", a.MaxSize)
		}
		if a.MaxMessages < 0 {
			add("max-messages", "max-messages %d must not be negative (0: no limit)", a.MaxMessages)
		}
	case ProtocolIMAP:
		for _, kv := range []struct {
			key string
			set bool
		}{{"keep", a.Keep}, {"delete-after", a.DeleteAfter != 0}, {"max-size", a.MaxSize != 0}, {"max-messages", a.MaxMessages != 0}} {
			if kv.set {
				add(kv.key, "%s applies to pop3 accounts only", kv.key)
			}
		}
		if a.Jobs < 1 || a.Jobs > MaxJobs {
			add("jobs", "jobs %d is out of range (1-%d)", a.Jobs, MaxJobs)
		}
		if len(a.Folders) == 0 {
			add("folders", "folders is empty, so nothing would be synced: use [\"*\"] for every folder")
		}
		for _, f := range a.Folders {
			if strings.TrimPrefix(f, "!") == "" {
				add("folders", "folders pattern %q is empty", f)
			}
		}
	}
	return ps
}

// validName returns what is wrong with an account name, or "". The name is a
// directory name under the state home, so it cannot climb out of it.
func validName(name string) string {
	switch {
	case name == "":
		return "the account has no name"
	case name == "." || name == ".." || strings.ContainsRune(name, '/'):
		return "the account name cannot be \".\", \"..\" or contain \"/\": it names the account's state directory"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "the account name contains a control character"
	}
	return ""
}

// oneOf formats the allowed values of a key: "a", "b" or "c".
func oneOf(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
