package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailfetch/mailfetch/config"
	"github.com/mailfetch/mailfetch/failure"
	"github.com/mailfetch/mailfetch/maildir"
	"github.com/mailfetch/mailfetch/report"
)

// loadAccounts returns the accounts of protocol that this run works on, with
// the command line's settings applied over the config file's.
//
// Without a config file, --host makes a one-off account named after user
// and host. With one, --account picks accounts (default: all of protocol)
// and every account flag given overrides that setting in each of them.
func loadAccounts(c *cli.Context, protocol string) ([]*config.Account, error) {
	if c.Args().Present() {
		// Flag parsing stops at the first argument: in "pop3 work --dry-run"
		// the --dry-run would be ignored, and every account really run.
		return nil, failure.New(failure.Usage, fmt.Sprintf(
			"unexpected argument %q: name accounts with --account NAME, and give flags before any argument", c.Args().First()))
	}
	path := flagString(c, "config")
	explicit := path != ""
	if !explicit {
		path = config.DefaultPath()
	}
	names := flagStrings(c, "account")
	if c.IsSet("host") && len(names) == 0 {
		// A host on the command line with no account named means "this
		// server", not "every account in the file".
		a := &config.Account{Protocol: protocol}
		applyAccountFlags(c, a)
		a.Name = oneOffName(a)
		if err := a.Finish(); err != nil {
			return nil, err
		}
		return []*config.Account{a}, nil
	}
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, failure.New(failure.Usage, fmt.Sprintf(
				"no config file at %s: create one (see `mailfetch help` and the README) or give --config FILE or --host", path))
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	accounts, err := cfg.Select(protocol, names)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		applyAccountFlags(c, a)
		if err := a.Finish(); err != nil {
			return nil, err
		}
	}
	return accounts, nil
}

func oneOffName(a *config.Account) string {
	if a.User != "" {
		return a.User + "@" + a.Host
	}
	return a.Host
}

// applyAccountFlags copies every account flag that was set into a.
func applyAccountFlags(c *cli.Context, a *config.Account) {
	str := func(name string, dst *string) {
		if c.IsSet(name) {
			*dst = c.String(name)
		}
	}
	boolean := func(name string, dst *bool) {
		if c.IsSet(name) {
			*dst = c.Bool(name)
		}
	}
	str("host", &a.Host)
	if c.IsSet("port") {
		a.Port = c.Int("port")
	}
	str("tls", &a.TLS)
	str("ca-file", &a.CAFile)
	str("fingerprint", &a.Fingerprint)
	boolean("allow-plaintext", &a.AllowPlaintext)
	str("user", &a.User)
	str("auth", &a.Auth)
	for _, p := range []struct {
		name string
		dst  *string
	}{{"password-command", &a.PasswordCommand}, {"password-file", &a.PasswordFile}, {"password-env", &a.PasswordEnv}} {
		if c.IsSet(p.name) {
			// A password source on the command line replaces the file's,
			// whichever kind that was.
			a.PasswordCommand, a.PasswordFile, a.PasswordEnv, a.Password = "", "", "", ""
			*p.dst = c.String(p.name)
		}
	}
	str("maildir", &a.Maildir)
	str("layout", &a.Layout)
	// A delivery target on the command line replaces the file's.
	if c.IsSet("maildir") {
		a.MDA = ""
	}
	if c.IsSet("mda") {
		a.MDA, a.Maildir = c.String("mda"), ""
	}
	str("state-dir", &a.StateDir)
	if c.IsSet("timeout") {
		a.Timeout = c.Duration("timeout")
	}
	// Protocol settings exist only on their command.
	boolean("keep", &a.Keep)
	if c.IsSet("delete-after") {
		a.DeleteAfter = c.Int("delete-after")
	}
	if c.IsSet("max-size") {
		a.MaxSize = c.Int64("max-size")
	}
	if c.IsSet("max-messages") {
		a.MaxMessages = c.Int("max-messages")
	}
	if c.IsSet("folders") {
		a.Folders = c.StringSlice("folders")
	}
	if c.IsSet("jobs") {
		a.Jobs = c.Int("jobs")
	}
	boolean("expunge-remote", &a.ExpungeRemote)
}

// newRenderer builds the run's reporter from the run flags.
func newRenderer(c *cli.Context) *report.Renderer {
	return report.NewRenderer(report.Options{
		Stdout:   c.App.Writer,
		Stderr:   c.App.ErrWriter,
		JSON:     flagBool(c, "json"),
		Quiet:    flagBool(c, "quiet"),
		Verbose:  flagBool(c, "verbose"),
		DryRun:   flagBool(c, "dry-run"),
		Progress: c.App.ErrWriter == os.Stderr && term.IsTerminal(int(os.Stderr.Fd())),
	})
}

// summaryMode says whether a command ends with the run summary (a fetch
// does; a listing is its own output).
type summaryMode bool

const (
	withSummary summaryMode = true
	noSummary   summaryMode = false
)

// accountRun is what a command does for one account, with the lock held
// (except in a dry run, which writes nothing) and the secret resolved.
type accountRun func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error

// runAccounts runs fn for each account in turn, reports each account's
// error once, and returns an error whose kind gives the exit code: the kind
// shared by all failures, or Partial when some accounts failed and others
// did not or when they failed differently.
func runAccounts(c *cli.Context, protocol string, summary summaryMode, fn accountRun) error {
	accounts, err := loadAccounts(c, protocol)
	if err != nil {
		return err
	}
	r := newRenderer(c)
	r.SetSummary(summary == withSummary)
	var failed []error
	for _, a := range accounts {
		err := runAccount(c, a, r, fn)
		if err != nil {
			failed = append(failed, err)
		}
		r.Emit(report.Event{Kind: report.AccountDone, Account: a.Name, Protocol: protocol, Err: err})
	}
	exit := combine(failed, len(accounts))
	r.Close(failure.Code(exit))
	if exit == nil {
		return nil
	}
	return &alreadyReported{exit}
}

func runAccount(c *cli.Context, a *config.Account, r *report.Renderer, fn accountRun) error {
	ctx := c.Context
	dry := flagBool(c, "dry-run")
	if !dry {
		if err := maildir.MkdirAllDurable(a.StateDir, 0o700); err != nil {
			return failure.Wrap(failure.LocalIO, fmt.Errorf("state directory: %w", err))
		}
		release, err := a.Lock(ctx, flagWait(c))
		if err != nil {
			return err
		}
		defer release()
	}
	secret, err := a.Secret(ctx)
	if err != nil {
		return err
	}
	return fn(ctx, a, secret, r)
}

func combine(failed []error, total int) error {
	if len(failed) == 0 {
		return nil
	}
	kind := failure.KindOf(failed[0])
	for _, err := range failed[1:] {
		if failure.KindOf(err) != kind {
			kind = failure.Partial
		}
	}
	if len(failed) < total {
		kind = failure.Partial
	}
	if len(failed) == 1 {
		return failure.Wrap(kind, failed[0])
	}
	msgs := make([]string, len(failed))
	for i, err := range failed {
		msgs[i] = err.Error()
	}
	return failure.Wrap(kind, errors.New(strings.Join(msgs, "; ")))
}
