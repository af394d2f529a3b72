package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// endpoint is where a tool connects: the server's plain port, or the
// proxy's port in front of it.
type endpoint struct {
	host       string
	port       int
	user, pass string
}

// account is one mailbox as a tool is configured for it: where to
// connect, and where its mail and state go.
type account struct {
	name    string // the tool's name for it: "bench", or a01, a02, ... for the accounts scenarios
	ep      endpoint
	maildir string
	state   string
}

// job is what one invocation of a tool does: every account it is
// configured with (all synced by one command), and for POP3 whether the
// mail is deleted on the server (else it is kept, and fetched once).
type job struct {
	accounts   []account
	deleteMode bool
}

// multi says whether the job has several accounts: the tool is then run
// on all of them (mpop -a, mbsync -a, mailfetch without --account).
func (j job) multi() bool { return len(j.accounts) > 1 }

// tool is one program under measurement. pop3 and imap write its
// configuration into a fresh run directory and return the command line;
// the same command line syncs again for the later phases.
type tool struct {
	name   string
	slow   bool  // minutes per run: measured -slow-runs times, no warm-up
	okExit []int // exit codes that mean success
	pop3   func(b *bench, d *runDir, j job) []string
	imap   func(b *bench, d *runDir, j job) []string
	// versionArgs prints the version on stdout or stderr (first line kept).
	versionArgs []string
}

var tools = []*tool{
	{name: "mailfetch", okExit: []int{0}, pop3: mailfetchPOP3, imap: mailfetchIMAP},
	{name: "mpop", okExit: []int{0}, pop3: mpopPOP3, versionArgs: []string{"mpop", "--version"}},
	// fetchmail exits 1 when there was no mail, which a fresh id file rules out.
	{name: "fetchmail", slow: true, okExit: []int{0}, pop3: fetchmailPOP3, versionArgs: []string{"fetchmail", "--version"}},
	{name: "getmail", slow: true, okExit: []int{0}, pop3: getmailPOP3, versionArgs: []string{"getmail", "--version"}},
	{name: "mbsync", okExit: []int{0}, imap: mbsyncIMAP, versionArgs: []string{"mbsync", "--version"}},
	{name: "offlineimap", slow: true, okExit: []int{0}, imap: offlineimapIMAP, versionArgs: []string{"offlineimap", "--version"}},
}

func toolNames() []string {
	var names []string
	for _, t := range tools {
		names = append(names, t.name)
	}
	return names
}

func toolByName(name string) *tool {
	for _, t := range tools {
		if t.name == name {
			return t
		}
	}
	panic("unknown tool " + name)
}

// version returns the first line the tool prints about its version.
func (t *tool) version(b *bench) string {
	args := t.versionArgs
	if t.name == "mailfetch" {
		args = []string{b.mailfetch, "version"}
	}
	out, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "fetchmail: WARNING") {
			return line
		}
	}
	return "?"
}

// writeConfig writes a configuration file that only its owner may read
// (mpop, fetchmail and mailfetch insist on it; run() chowns the tree).
func writeConfig(path, text string) {
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		panic(err) // a fresh directory of ours: cannot fail but for a full disk
	}
}

// mailfetchConfigText is a mailfetch config with one [account.NAME]
// table per account, plain port, tls off (like every peer), keyed as
// mailfetch.toml(5) documents.
func mailfetchConfigText(j job, proto, extra string) string {
	var b strings.Builder
	for k, a := range j.accounts {
		if k > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, `[account.%s]
protocol = %q
host = %q
port = %d
tls = "none"
allow-plaintext = true
user = %q
password = %q
maildir = %q
state-dir = %q
%s`, a.name, proto, a.ep.host, a.ep.port, a.ep.user, a.ep.pass, a.maildir, a.state, extra)
	}
	return b.String()
}

// mailfetchArgs writes the config and returns the command line: the
// command, then -mailfetch-flags (after the command, where mailfetch
// takes both run and account flags). No --account: one invocation runs
// every account of the protocol.
func mailfetchArgs(b *bench, d *runDir, j job, proto, extra string, command ...string) []string {
	conf := filepath.Join(d.home, "mailfetch.toml")
	writeConfig(conf, mailfetchConfigText(j, proto, extra))
	argv := append([]string{b.mailfetch, "--config", conf, "--quiet"}, command...)
	return append(argv, b.opt.mailfetchFlags...)
}

func mailfetchPOP3(b *bench, d *runDir, j job) []string {
	extra := "keep = true\n"
	if j.deleteMode {
		extra = "keep = false\n"
	}
	return mailfetchArgs(b, d, j, "pop3", extra, "pop3")
}

func mailfetchIMAP(b *bench, d *runDir, j job) []string {
	extra := ""
	if b.opt.jobs > 0 {
		extra = fmt.Sprintf("jobs = %d\n", b.opt.jobs)
	}
	return mailfetchArgs(b, d, j, "imap", extra, "imap", "sync")
}

// mpopConfigText is an mpoprc with one account per job account, each
// delivering into its own Maildir with its own UIDL file.
func mpopConfigText(j job) string {
	keep := "on"
	if j.deleteMode {
		keep = "off"
	}
	var b strings.Builder
	b.WriteString("defaults\ntimeout 600\n")
	for _, a := range j.accounts {
		fmt.Fprintf(&b, `
account %s
host %s
port %d
user %s
password %s
auth user
tls off
keep %s
only_new on
received_header off
delivery maildir %s
uidls_file %s
`, a.name, a.ep.host, a.ep.port, a.ep.user, a.ep.pass, keep, a.maildir, filepath.Join(a.state, "mpop-uidls"))
	}
	return b.String()
}

func mpopPOP3(b *bench, d *runDir, j job) []string {
	conf := filepath.Join(d.home, "mpoprc")
	writeConfig(conf, mpopConfigText(j))
	if j.multi() {
		return []string{"mpop", "-C", conf, "-q", "-a"}
	}
	return []string{"mpop", "-C", conf, "-q", j.accounts[0].name}
}

func fetchmailPOP3(b *bench, d *runDir, j job) []string {
	ep := j.accounts[0].ep
	conf := filepath.Join(d.home, "fetchmailrc")
	// sslproto '' stops the opportunistic STLS that would fail on the
	// self-signed certificate; like the others, it reads the plain port.
	writeConfig(conf, fmt.Sprintf(`set no bouncemail
set no syslog
poll %s with proto POP3 port %d uidl auth password
    user "%s" there with password "%s" is "nobody" here
    sslproto ''
    keep
    no rewrite
    mda "%s %s"
`, ep.host, ep.port, ep.user, ep.pass, b.minimda, d.maildir))
	return []string{"fetchmail", "-f", conf, "-i", filepath.Join(d.state, "fetchids"),
		"--pidfile", filepath.Join(d.state, "fetchmail.pid"), "--nodetach", "--silent"}
}

func getmailPOP3(b *bench, d *runDir, j job) []string {
	ep := j.accounts[0].ep
	conf := filepath.Join(d.home, "getmailrc")
	writeConfig(conf, fmt.Sprintf(`[retriever]
type = SimplePOP3Retriever
server = %s
port = %d
username = %s
password = %s

[destination]
type = Maildir
path = %s/

[options]
verbose = 0
delete = false
read_all = false
received = false
delivered_to = false
message_log_syslog = false
`, ep.host, ep.port, ep.user, ep.pass, d.maildir))
	return []string{"getmail", "--quiet", "--getmaildir", d.state, "--rcfile", conf}
}

// mbsyncConfigText is an mbsyncrc with an IMAPAccount, its stores and a
// Channel per job account. Maildir++ like mailfetch's default layout:
// INBOX at the root, .Folder01 beside it. FSync is on by default, as
// mailfetch's are.
func mbsyncConfigText(j job) string {
	var b strings.Builder
	for k, a := range j.accounts {
		if k > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, `IMAPAccount %[1]s
Host %[2]s
Port %[3]d
User %[4]s
Pass %[5]s
AuthMechs LOGIN
SSLType None

IMAPStore %[1]s-remote
Account %[1]s

MaildirStore %[1]s-local
Inbox %[6]s
SubFolders Maildir++

Channel %[1]s
Far :%[1]s-remote:
Near :%[1]s-local:
Patterns *
Sync Pull
Create Near
Remove None
Expunge None
SyncState %[7]s/
`, a.name, a.ep.host, a.ep.port, a.ep.user, a.ep.pass, a.maildir, a.state)
	}
	return b.String()
}

func mbsyncIMAP(b *bench, d *runDir, j job) []string {
	conf := filepath.Join(d.home, "mbsyncrc")
	writeConfig(conf, mbsyncConfigText(j))
	if j.multi() {
		return []string{"mbsync", "-c", conf, "-q", "-a"}
	}
	return []string{"mbsync", "-c", conf, "-q", j.accounts[0].name}
}

func offlineimapIMAP(b *bench, d *runDir, j job) []string {
	ep := j.accounts[0].ep
	conf := filepath.Join(d.home, "offlineimaprc")
	// maxconnections 4 matches mailfetch's default of 4 folders at once.
	writeConfig(conf, fmt.Sprintf(`[general]
accounts = bench
metadata = %s
ui = quiet
maxsyncaccounts = 1

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = %s
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
readonly = True
maxconnections = 4
`, d.state, d.maildir, ep.host, ep.port, ep.user, ep.pass))
	return []string{"offlineimap", "-c", conf, "-o", "-u", "quiet"}
}
