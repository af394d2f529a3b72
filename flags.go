package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// Flags come in groups; each command offers the groups that apply to it
// (`imap list` has no --dry-run or --jobs, `accounts` no --wait). Every
// run flag is also accepted before the command name (`mailfetch --quiet
// pop3`), which is why the app has all of runFlags.

// runFlags are the flags that steer a run rather than describe an account.
func runFlags() []cli.Flag {
	return concat(selectFlags(), outputFlags(), []cli.Flag{dryRunFlag(), waitFlag()})
}

// selectFlags pick the config file and the accounts.
func selectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "read accounts from `FILE`", DefaultText: "$XDG_CONFIG_HOME/mailfetch/config.toml", EnvVars: []string{"MAILFETCH_CONFIG"}},
		&cli.StringSliceFlag{Name: "account", Aliases: []string{"a"}, Usage: "run only the account `NAME` (repeatable)", DefaultText: "every account of the protocol"},
	}
}

// outputFlags choose what is printed.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print JSON Lines on stdout: one object per message, a summary last", DisableDefaultText: true},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors", DisableDefaultText: true},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print a line per message", DisableDefaultText: true},
		traceFlag(),
	}
}

func traceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "trace", Usage: "print the protocol transcript on stderr (credentials redacted)", DisableDefaultText: true}
}

func dryRunFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "connect and list exactly what would be fetched, changed and deleted; change nothing", DisableDefaultText: true}
}

func waitFlag() cli.Flag {
	return &cli.GenericFlag{Name: "wait", Value: &waitValue{}, Usage: "when another run holds the account's lock, wait for it (up to `DURATION` with --wait=DURATION) instead of exiting with code 4", DefaultText: "exit at once"}
}

// accountCategory heads the account settings in --help.
const accountCategory = "Account settings (override the config file)"

// accountFlags describe one account: every config key has a flag of the same
// name. With a config file they override the selected accounts' settings;
// without one, --host (and --protocol's command) make a one-off account.
func accountFlags() []cli.Flag {
	return concat(connectionFlags(), deliveryFlags(), limitFlags())
}

// connectionFlags say how to reach and log in to the server.
func connectionFlags() []cli.Flag {
	const cat = accountCategory
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Category: cat, Usage: "server `HOST` name"},
		&cli.IntFlag{Name: "port", Category: cat, Usage: "server `PORT`", DefaultText: "995/110 for POP3, 993/143 for IMAP, by --tls"},
		&cli.StringFlag{Name: "tls", Category: cat, Usage: "`MODE`: implicit, starttls (required, never downgraded) or none", DefaultText: "implicit"},
		&cli.StringFlag{Name: "ca-file", Category: cat, Usage: "trust the certificates in `FILE` instead of the system roots"},
		&cli.StringFlag{Name: "fingerprint", Category: cat, Usage: "accept only the server certificate with this SHA-256 `HEX` fingerprint"},
		&cli.BoolFlag{Name: "allow-plaintext", Category: cat, Usage: "allow sending credentials without TLS (with --tls none)", DisableDefaultText: true},
		&cli.StringFlag{Name: "user", Category: cat, Usage: "login `NAME`"},
		&cli.StringFlag{Name: "auth", Category: cat, Usage: "`MECH`: auto, plain, login, cram-md5, xoauth2, oauthbearer (apop, user: POP3 only)", DefaultText: "auto"},
		&cli.StringFlag{Name: "password-command", Category: cat, Usage: "run `CMD` with sh -c; the first line of its output is the password or OAuth2 token"},
		&cli.StringFlag{Name: "password-file", Category: cat, Usage: "read the password from the first line of `FILE` (mode 0600)"},
		&cli.StringFlag{Name: "password-env", Category: cat, Usage: "read the password from the environment variable `NAME`"},
		&cli.DurationFlag{Name: "timeout", Category: cat, Usage: "network I/O timeout: a server silent for `DURATION`, or sending less than 1 KiB in that long, fails the run with 75", DefaultText: "60s"},
	}
}

// deliveryFlags say where mail and state go.
func deliveryFlags() []cli.Flag {
	const cat = accountCategory
	return []cli.Flag{
		&cli.StringFlag{Name: "maildir", Category: cat, Usage: "deliver into the Maildir at `DIR` (created if missing)"},
		&cli.StringFlag{Name: "layout", Category: cat, Usage: "folder `LAYOUT`: maildir++ (.Sub.Folder) or fs (nested directories)", DefaultText: "maildir++"},
		&cli.StringFlag{Name: "mda", Category: cat, Usage: "pipe each message into `CMD` (sh -c) instead of a Maildir; exit 0 means delivered"},
		stateDirFlag(),
	}
}

func stateDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "state-dir", Category: accountCategory, Usage: "keep the account's state and lock in `DIR`", DefaultText: "$XDG_STATE_HOME/mailfetch/ACCOUNT"}
}

// accountJobsFlag sets how many accounts one invocation works on at once.
func accountJobsFlag() cli.Flag {
	return &cli.IntFlag{Name: "account-jobs", Usage: "work on up to `N` accounts at once (the config file's top-level account-jobs)", DefaultText: "4"}
}

// limitFlags bound a run and its failures.
func limitFlags() []cli.Flag {
	const cat = accountCategory
	return []cli.Flag{
		&cli.DurationFlag{Name: "deadline", Category: cat, Usage: "stop the run safely after `DURATION` from its start, and exit 75 (0: none)", DefaultText: "2h"},
		&cli.DurationFlag{Name: "fail-after", Category: cat, Usage: "exit 69 instead of 75 once temporary failures have gone on for `DURATION` (0: never)", DefaultText: "24h"},
	}
}

func pop3Flags() []cli.Flag {
	const cat = "POP3"
	return []cli.Flag{
		&cli.BoolFlag{Name: "keep", Category: cat, Usage: "leave mail on the server; remember UIDLs so each message is fetched once", DisableDefaultText: true},
		&cli.BoolFlag{Name: "all", Category: cat, Usage: "with --keep: fetch every message, also those fetched before", DisableDefaultText: true},
		&cli.IntFlag{Name: "delete-after", Category: cat, Usage: "with --keep: delete messages `DAYS` days after they were first fetched", DefaultText: "never"},
		&cli.Int64Flag{Name: "max-size", Category: cat, Usage: "skip (and report) messages larger than `BYTES`", DefaultText: "no limit"},
		&cli.IntFlag{Name: "max-messages", Category: cat, Usage: "fetch at most `N` messages in this run", DefaultText: "no limit"},
	}
}

// imapCategory heads the IMAP settings in --help.
const imapCategory = "IMAP"

func foldersFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "folders", Category: imapCategory, Usage: "folder `PATTERN`s as mbsync's Patterns: * and %, !PATTERN excludes (repeatable)", DefaultText: "*"}
}

func imapSyncFlags() []cli.Flag {
	const cat = imapCategory
	return []cli.Flag{
		foldersFlag(),
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Category: cat, Usage: "sync up to `N` folders in parallel (at most 8)", DefaultText: "4"},
		&cli.BoolFlag{Name: "expunge-remote", Category: cat, Usage: "delete on the server the messages deleted locally", DisableDefaultText: true},
		&cli.BoolFlag{Name: "allow-mass-delete", Category: cat, Usage: "allow this run to delete more than 100 messages, or more than a quarter, of a folder (on either side); without it such deletions are held back and the run exits 5", DisableDefaultText: true},
	}
}

func concat(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// lookup finds the innermost context in which the flag was set, so that a
// run flag works before or after the command name.
func lookup(c *cli.Context, name string) (*cli.Context, bool) {
	for _, x := range c.Lineage() {
		if x.Command == nil && x.App == nil {
			continue
		}
		if x.IsSet(name) {
			return x, true
		}
	}
	return c, false
}

func flagBool(c *cli.Context, name string) bool {
	x, _ := lookup(c, name)
	return x.Bool(name)
}

// flagInt returns an int flag's value and whether it was given.
func flagInt(c *cli.Context, name string) (int, bool) {
	x, ok := lookup(c, name)
	if !ok {
		return 0, false
	}
	return x.Int(name), true
}

func flagString(c *cli.Context, name string) string {
	x, _ := lookup(c, name)
	return x.String(name)
}

func flagStrings(c *cli.Context, name string) []string {
	x, _ := lookup(c, name)
	return x.StringSlice(name)
}

// waitValue is --wait's value: bare --wait waits as long as it takes,
// --wait=DURATION at most that long.
type waitValue struct {
	d   time.Duration
	set bool
}

// waitForever bounds a bare --wait: a lock held longer than a day is a stuck
// run that a human should look at.
const waitForever = 24 * time.Hour

func (w *waitValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "":
		w.d, w.set = waitForever, true
		return nil
	case "false":
		w.d, w.set = 0, false
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("--wait takes a duration such as 30s or 5m, not %q", s)
	}
	w.d, w.set = d, true
	return nil
}

func (w *waitValue) String() string {
	if w == nil || !w.set {
		return ""
	}
	return w.d.String()
}

// IsBoolFlag lets the flag package accept a bare --wait.
func (w *waitValue) IsBoolFlag() bool { return true }

func flagWait(c *cli.Context) time.Duration {
	x, ok := lookup(c, "wait")
	if !ok {
		return 0
	}
	if w, ok := x.Generic("wait").(*waitValue); ok {
		return w.d
	}
	return 0
}
