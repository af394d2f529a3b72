package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mailfetch/mailfetch/internal/config"
)

// The man pages: mailfetch(1) is urfave/cli's page of the app (so it never
// disagrees with --help) with the sections it does not make; and
// mailfetch.toml(5), the config file, from config.Keys, which the
// README's key table is made from too (mandocs_test.go keeps all three
// equal).

// manSections are the sections mailfetch(1) adds to urfave's page.
func manSections() string {
	var b strings.Builder
	b.WriteString(".SH EXIT STATUS\n")
	for _, line := range strings.Split(exitCodesHelp, "\n")[1:] {
		code, text, _ := strings.Cut(strings.TrimSpace(line), " ")
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", code, roff(strings.TrimSpace(text)))
	}
	b.WriteString(`.SH ENVIRONMENT
.TP
\fBMAILFETCH_CONFIG\fR
the config file, as --config gives it
.TP
\fBXDG_CONFIG_HOME\fR
where the config file is by default: $XDG_CONFIG_HOME/mailfetch/config.toml (~/.config without it)
.TP
\fBXDG_STATE_HOME\fR
where each account's state is by default: $XDG_STATE_HOME/mailfetch/ACCOUNT (~/.local/state without it)
.PP
The variable an account names with \fBpassword-env\fR holds its password; it is removed from the
environment of \fBpassword-command\fR, \fBmda\fR and everything they run.
.SH FILES
.TP
\fB~/.config/mailfetch/config.toml\fR
the accounts; see \fBmailfetch.toml\fR(5)
.TP
\fB~/.local/state/mailfetch/ACCOUNT/\fR
an account's state: \fBlock\fR (held while a run works on the account), \fBpop3.journal\fR,
\fBimap/\fR (a journal and a skip mark per folder), \fBfailing\fR (since when temporary failures last)
.TP
\fBMAILDIR/.mailfetch%id\fR
the identity of a Maildir folder, which the state records: a state never reads a missing file
of another Maildir as a deletion
.SH EXAMPLES
.PP
Every 5 minutes from cron, silent unless something is wrong, temporary failures left to the next run:
.PP
.RS
*/5 * * * * mailfetch run --quiet || [ $? -eq 75 ]
.RE
.PP
See what a sync would do, as JSON Lines, without changing anything:
.PP
.RS
mailfetch imap sync --dry-run --json
.RE
.PP
A one-off POP3 account from flags, mail left on the server:
.PP
.RS
MAILFETCH_PW=secret mailfetch pop3 --host pop.example.net --user me --password-env MAILFETCH_PW --maildir ~/Mail --keep
.RE
.PP
Switch from another fetcher:
.PP
.RS
mailfetch import mbsync > ~/.config/mailfetch/config.toml
.RE
.SH SEE ALSO
\fBmailfetch.toml\fR(5), \fBmbsync\fR(1), \fBmpop\fR(1), \fBfetchmail\fR(1)
`)
	return b.String()
}

// codeSpan is a Markdown code span.
var codeSpan = regexp.MustCompile("`([^`]*)`")

// roff turns the Markdown of a key's text (code spans only) into roff.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = codeSpan.ReplaceAllString(s, `\fB$1\fR`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// keyTable is the README's table of every key, from config.Keys.
func keyTable() string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range config.Keys {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Key, k.Default, k.Meaning)
	}
	return b.String()
}

// tomlManPage is mailfetch.toml(5).
func tomlManPage() string {
	var b strings.Builder
	b.WriteString(`.TH mailfetch.toml 5
.SH NAME
mailfetch.toml \- the accounts of mailfetch
.SH SYNOPSIS
\fB$XDG_CONFIG_HOME/mailfetch/config.toml\fR (\fB~/.config/mailfetch/config.toml\fR), or the file
given with \fB--config\fR or \fBMAILFETCH_CONFIG\fR
.SH DESCRIPTION
A TOML file with one \fB[account.NAME]\fR table per account, run in the order they appear, and an
optional \fB[defaults]\fR table with the same keys, inherited by every account that does not set them.
Every key is also a command-line flag of the same name, which overrides the file.
.PP
One key stands at the top level, before the first table: \fBaccount-jobs\fR (default 4, 1 to 32),
how many accounts one invocation works on at once (\fB--account-jobs\fR overrides it).
.PP
A key the format does not know is an error that names it and its line, so a typo never drops a
setting silently; a syntax error names its line and column.
.PP
Inheritance from \fB[defaults]\fR: the password keys (\fBpassword-command\fR, \fBpassword-file\fR,
\fBpassword-env\fR, \fBpassword\fR) are one group, and \fBmaildir\fR and \fBmda\fR another: an account
that sets any key of a group inherits none of that group. POP3-only and IMAP-only keys in
\fB[defaults]\fR reach only accounts of that protocol. \fBstate-dir\fR cannot be set in
\fB[defaults]\fR: every account needs its own.
.PP
Paths (\fBmaildir\fR, \fBstate-dir\fR, \fBca-file\fR, \fBpassword-file\fR) expand a leading ~/ and must be
absolute after that. \fBmda\fR and \fBpassword-command\fR are run with sh -c. \fBprotocol\fR, \fBtls\fR,
\fBauth\fR and \fBlayout\fR are case-insensitive. Two accounts cannot share a \fBstate-dir\fR, and an IMAP
account cannot share its \fBmaildir\fR with another account. A file that holds a password must not
be readable by group or others.
.SH KEYS
`)
	for _, k := range config.Keys {
		switch {
		case strings.HasPrefix(k.Default, "("):
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR %s\n%s\n", k.Key, roff(k.Default), roff(k.Meaning))
		case k.Default == "—":
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", k.Key, roff(k.Meaning))
		default:
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR (default: %s)\n%s\n", k.Key, roff(k.Default), roff(k.Meaning))
		}
	}
	b.WriteString(`.SH EXAMPLES
.PP
.RS
.nf
[defaults]
timeout = "2m"

[account.home]
protocol = "pop3"
host = "pop.example.net"          # port 995, implicit TLS by default
user = "me@example.net"
password-command = "pass show mail/home"
maildir = "~/Mail/home"
keep = false                      # download-and-delete (the default)

[account.work]
protocol = "imap"
host = "imap.gmail.com"
user = "me@example.com"
auth = "xoauth2"
password-command = "oama access me@example.com"
maildir = "~/Mail/work"
folders = ["*", "!Spam", "![Gmail]/All Mail"]
.fi
.RE
.SH SEE ALSO
\fBmailfetch\fR(1)
`)
	return b.String()
}
