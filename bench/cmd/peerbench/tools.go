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

// tool is one program under measurement. setup writes its configuration
// into a fresh run directory and returns the command line; the same
// command line syncs again for the later IMAP phases.
type tool struct {
	name   string
	slow   bool  // minutes per run: measured -slow-runs times, no warm-up
	okExit []int // exit codes that mean success
	pop3   func(b *bench, d *runDir, ep endpoint) []string
	imap   func(b *bench, d *runDir, ep endpoint) []string
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

func mailfetchConfig(b *bench, d *runDir, ep endpoint, proto, extra string) []string {
	conf := filepath.Join(d.home, "mailfetch.toml")
	writeConfig(conf, fmt.Sprintf(`[account.bench]
protocol = %q
host = %q
port = %d
tls = "none"
allow-plaintext = true
user = %q
password = %q
maildir = %q
state-dir = %q
%s`, proto, ep.host, ep.port, ep.user, ep.pass, d.maildir, d.state, extra))
	return []string{b.mailfetch, "--config", conf, "--quiet"}
}

func mailfetchPOP3(b *bench, d *runDir, ep endpoint) []string {
	return append(mailfetchConfig(b, d, ep, "pop3", "keep = true\n"), "pop3")
}

func mailfetchIMAP(b *bench, d *runDir, ep endpoint) []string {
	extra := ""
	if b.opt.jobs > 0 {
		extra = fmt.Sprintf("jobs = %d\n", b.opt.jobs)
	}
	return append(mailfetchConfig(b, d, ep, "imap", extra), "imap", "sync")
}

func mpopPOP3(b *bench, d *runDir, ep endpoint) []string {
	conf := filepath.Join(d.home, "mpoprc")
	writeConfig(conf, fmt.Sprintf(`defaults
timeout 600

account bench
host %s
port %d
user %s
password %s
auth user
tls off
keep on
only_new on
received_header off
delivery maildir %s
uidls_file %s
`, ep.host, ep.port, ep.user, ep.pass, d.maildir, filepath.Join(d.state, "mpop-uidls")))
	return []string{"mpop", "-C", conf, "-q", "bench"}
}

func fetchmailPOP3(b *bench, d *runDir, ep endpoint) []string {
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

func getmailPOP3(b *bench, d *runDir, ep endpoint) []string {
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

func mbsyncIMAP(b *bench, d *runDir, ep endpoint) []string {
	conf := filepath.Join(d.home, "mbsyncrc")
	// Maildir++ like mailfetch's default layout: INBOX at the root,
	// .Folder01 beside it. FSync is on by default, as mailfetch's are.
	writeConfig(conf, fmt.Sprintf(`IMAPAccount bench
Host %s
Port %d
User %s
Pass %s
AuthMechs LOGIN
SSLType None

IMAPStore remote
Account bench

MaildirStore local
Inbox %s
SubFolders Maildir++

Channel bench
Far :remote:
Near :local:
Patterns *
Sync Pull
Create Near
Remove None
Expunge None
SyncState %s/
`, ep.host, ep.port, ep.user, ep.pass, d.maildir, d.state))
	return []string{"mbsync", "-c", conf, "-q", "bench"}
}

func offlineimapIMAP(b *bench, d *runDir, ep endpoint) []string {
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
