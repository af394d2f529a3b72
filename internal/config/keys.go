package config

// KeyDoc documents one config key: the README's key table and the
// mailfetch.toml(5) man page are made from Keys (a test keeps both equal
// to what this says), so that neither can drift from the other or from
// the keys the file format knows (rawAccount).
type KeyDoc struct {
	Key     string
	Default string // as the README shows it (Markdown)
	Meaning string // Markdown: `code` spans, no other markup
}

// Keys are the config keys in the order the README lists them.
var Keys = []KeyDoc{
	{"protocol", "(required)", "`pop3` or `imap`"},
	{"host", "(required)", "server host name"},
	{"port", "995 / 110 (POP3), 993 / 143 (IMAP)", "by `tls`"},
	{"tls", "`implicit`", "`implicit`, `starttls` (required: fails if the server doesn't offer it), `none`"},
	{"ca-file", "system roots", "trust only the certificates in this PEM file"},
	{"fingerprint", "—", "accept only the certificate with this SHA-256 fingerprint"},
	{"allow-plaintext", "`false`", "with `tls = \"none\"`: allow sending the password unencrypted"},
	{"user", "—", "login name"},
	{"auth", "`auto`", "`auto`, `plain`, `login`, `cram-md5`, `xoauth2`, `oauthbearer`; POP3 also `user`, `apop`"},
	{"password-command", "—", "run with `sh -c`; first line of stdout is the password or OAuth2 token (30 s timeout). If it fails, the error gives its exit status and how many lines it printed on stderr, never what: a failing helper may print the password there. `--verbose` on a terminal shows its stderr as it runs"},
	{"password-timeout", "`30s`", "how long `password-command` may run before it is killed"},
	{"password-file", "—", "first line of this file; refused if group/others can read it"},
	{"password-env", "—", "name of an environment variable holding the password; removed from the environment of `password-command`, `mda` and everything they run"},
	{"password", "—", "plaintext; allowed only if the config file is not readable by group/others"},
	{"maildir", "(required unless `mda`)", "the Maildir root (`~` expanded); created if missing"},
	{"layout", "`maildir++`", "`maildir++` (`.Parent.Child/`) or `fs` (`Parent/Child/`)"},
	{"mda", "—", "pipe each message into this command (`sh -c`) instead: exit 0 means delivered"},
	{"state-dir", "`$XDG_STATE_HOME/mailfetch/NAME`", "state journal and lock"},
	{"timeout", "`60s`", "network I/O timeout: a server silent this long fails the run with code 75; so does one that keeps sending but brings less than 1 KiB in this long (a trickle: pauses of more than 2 s are silence, not trickle)"},
	{"deadline", "`2h`", "the run stops, as on Ctrl-C, this long after it started, and exits 75: nothing is lost and the next run goes on; `0`: no deadline. Generous, since a first sync of a large mailbox over a slow line may take hours, and a stopped one simply continues"},
	{"fail-after", "`24h`", "once temporary failures (75) of the account have gone on for longer, a run exits 69 instead, saying since when; `0`: never"},
	{"keep", "`false`", "POP3: leave mail on the server, fetch each message once (UIDL)"},
	{"delete-after", "`0`", "POP3 with `keep`: delete messages this many days after they were first fetched"},
	{"max-size", "`0` (none)", "POP3: skip and report messages larger than this many bytes"},
	{"max-messages", "`0` (none)", "POP3: fetch at most this many messages per run"},
	{"folders", "`[\"*\"]`", "IMAP: folder patterns as mbsync's `Patterns`: `*`, `%`, `!` excludes, later ones win"},
	{"jobs", "`4`", "IMAP: folders synced in parallel (at most 8)"},
	{"expunge-remote", "`false`", "IMAP: delete on the server what you deleted locally (UID EXPUNGE only)"},
}

// KnownKeys are the keys the file format reads, in its order.
func KnownKeys() []string {
	out := make([]string, len(rawFields))
	for i, f := range rawFields {
		out[i] = f.key
	}
	return out
}
