// Package config reads mailfetch's accounts from a TOML file, resolves their
// passwords, knows the XDG paths, and serialises runs of one account with a
// lock file.
//
// The engines never read this package's file: the CLI turns an Account into
// their plain settings. TLS mode and Maildir layout are therefore kept here
// as validated strings ("implicit", "starttls", "none"; "maildir++", "fs")
// for the CLI to convert.
//
// # File format
//
// The file (default $XDG_CONFIG_HOME/mailfetch/config.toml, see DefaultPath)
// holds one [account.NAME] table per account, in the order they are run, and
// an optional [defaults] table with the same keys, inherited by every
// account that does not set them. testdata/example.toml is a complete,
// commented example.
//
//	[defaults]
//	timeout = "2m"
//
//	[account.work]
//	protocol = "imap"                    # "pop3" | "imap" (required)
//	host = "imap.example.com"            # required
//	port = 993                           # default: pop3 995 (implicit TLS) or 110; imap 993 or 143
//	tls = "implicit"                     # "implicit" (default) | "starttls" | "none"
//	ca-file = "~/certs/ca.pem"           # trust these roots instead of the system's
//	fingerprint = "9f86d0...0f00a08"     # pin the server certificate's SHA-256 (64 hex digits, ':' allowed)
//	allow-plaintext = false              # must be true to send a password with tls = "none"
//	user = "me@example.com"              # required
//	auth = "auto"                        # auto | user | plain | login | cram-md5 | xoauth2 | oauthbearer | apop
//	password-command = "pass show mail/work"
//	password-file = "~/.config/mailfetch/work.pass"
//	password-env = "WORK_MAIL_PASSWORD"
//	password = "..."                     # only in a file no one else can read (mode 0600)
//	password-timeout = "30s"             # how long password-command may run
//	maildir = "~/Mail/work"              # required unless mda is set
//	layout = "maildir++"                 # "maildir++" (default) | "fs"
//	mda = "/usr/bin/procmail"            # instead of maildir: pipe each message into this command
//	state-dir = "~/.local/state/mailfetch/work"  # default $XDG_STATE_HOME/mailfetch/NAME
//	timeout = "60s"                      # network I/O timeout; also the window of the minimum transfer rate
//	deadline = "2h"                      # the run stops safely this long after its start ("0": none)
//	fail-after = "24h"                   # temporary failures longer than this exit 69 ("0": never)
//
//	# pop3 accounts only
//	keep = false                         # leave mail on the server, fetch each message once
//	delete-after = 0                     # with keep: delete on the server after this many days
//	max-size = 0                         # skip messages larger than this many bytes (0: no limit)
//	max-messages = 0                     # fetch at most this many per run (0: no limit)
//
//	# imap accounts only
//	folders = ["*", "!Trash", "!Spam"]   # mbsync-style patterns: * and %, !PATTERN excludes; default ["*"]
//	jobs = 4                             # folders synced in parallel, 1 to 8
//	expunge-remote = false               # delete on the server what was deleted locally
//
// Rules beyond the comments above:
//
//   - A key that the format does not know is an error that names the key and
//     its line, so a typo never silently drops a setting. A syntax error names
//     line and column.
//   - Keys set in an account override [defaults]. The password keys
//     (password-command, password-file, password-env, password) are one
//     group, and maildir and mda another: an account that sets any key of a
//     group inherits none of that group from [defaults]. pop3-only and
//     imap-only keys in [defaults] reach only accounts of that protocol.
//     state-dir cannot be set in [defaults]: every account needs its own.
//   - Paths (maildir, state-dir, ca-file, password-file) expand a leading ~/
//     and must be absolute after that. mda and password-command are shell
//     commands, run with sh -c, and expand nothing themselves.
//   - protocol, tls, auth and layout are case-insensitive.
//   - Two accounts cannot share a state-dir, and an imap account cannot share
//     its maildir with any other account (both would sync it).
//   - tls = "none" sends the password in clear unless auth is apop or
//     cram-md5, so it needs allow-plaintext = true.
//   - A file that holds a password must not be accessible to group or others.
//
// # Password sources
//
// Account.Secret uses the first source that is set, in this order:
// password-command, password-file, password-env, password. A source that is
// set but fails is an error; the next source is not tried, so a broken
// command is never papered over. Without any source, Secret prompts on the
// terminal if standard input is one, and fails otherwise.
//
// password-command runs with sh -c in a process group of its own, standard
// input /dev/null, and MAILFETCH_ACCOUNT, MAILFETCH_HOST and MAILFETCH_USER in
// its environment, without the variable password-env names (see
// Account.SecretVariables); the first line of its output is the password (or
// the OAuth2 token for xoauth2 and oauthbearer). If it runs longer than
// password-timeout (default 30s), its whole process group is killed. As it
// cannot use the terminal itself, a command that must ask for a passphrase
// should do so through an agent (gpg-agent's pinentry, a keyring).
//
// Every error of Secret is failure.Usage, a timed-out command included: it
// means the configured source cannot give a password without a person, and
// a later cron run would meet the same. No error or log ever contains a
// secret, nor anything password-command printed, stderr included: a helper
// that fails may print the secret there. Its exit status (or signal) and the
// number of lines on its stderr say why it failed; the stderr itself goes
// only where SecretOptions.CommandStderr sends it (the CLI: the terminal,
// with --verbose).
//
// # Deadline and fail-after
//
// deadline and fail-after take "0" for "off" (Disabled in an Account; a
// zero field means "not set" and takes the default). The CLI applies both:
// the run's context ends at the deadline, and a record of consecutive
// temporary failures in the state directory turns one that lasted longer
// than fail-after into an "unavailable" failure.
//
// # Locks
//
// Lock takes an exclusive flock(2) on a file (Account.LockPath, in the
// account's state directory) for the whole run, so that two runs never work
// on one account at once. The kernel drops the lock when the process dies, so
// a crashed run never leaves a stale lock behind. The holder's pid is written
// into the file for the other run's error message.
package config
