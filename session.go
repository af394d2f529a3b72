package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// loadAccounts returns the accounts of protocol that this run works on, with
// the command line's settings applied over the config file's.
//
// Without a config file, --host makes a one-off account named after user
// and host. With one, --account picks accounts (default: all of protocol)
// and every account flag given overrides that setting in each of them.
func loadAccounts(c *cli.Context, protocol string) ([]*config.Account, error) {
	accounts, _, err := loadRun(c, protocol)
	return accounts, err
}

// loadRun is loadAccounts that also says how many accounts to work on at
// once: --account-jobs, else the file's account-jobs, else
// defaultAccountJobs.
func loadRun(c *cli.Context, protocol string) ([]*config.Account, int, error) {
	jobs := defaultAccountJobs
	if n, ok := flagInt(c, "account-jobs"); ok {
		if n < 1 || n > config.MaxAccountJobs {
			return nil, 0, failure.New(failure.Usage, fmt.Sprintf("--account-jobs %d must be 1 to %d", n, config.MaxAccountJobs))
		}
		jobs = n
	}
	if c.Args().Present() {
		// Flag parsing stops at the first argument: in "pop3 work --dry-run"
		// the --dry-run would be ignored, and every account really run.
		return nil, 0, failure.New(failure.Usage, fmt.Sprintf(
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
			return nil, 0, err
		}
		return []*config.Account{a}, jobs, nil
	}
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, 0, failure.New(failure.Usage, fmt.Sprintf(
				"no config file at %s: create one (see `mailfetch help` and the README) or give --config FILE or --host", path))
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, 0, err
	}
	accounts, err := cfg.Select(protocol, names)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range accounts {
		applyAccountFlags(c, a)
		if err := a.Finish(); err != nil {
			return nil, 0, err
		}
	}
	if _, set := flagInt(c, "account-jobs"); !set && cfg.AccountJobs > 0 {
		jobs = cfg.AccountJobs
	}
	return accounts, jobs, nil
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
	// 0 turns these off; an unset (zero) field would take the default.
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"deadline", &a.Deadline}, {"fail-after", &a.FailAfter}} {
		if c.IsSet(d.name) {
			if *d.dst = c.Duration(d.name); *d.dst == 0 {
				*d.dst = config.Disabled
			}
		}
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

// commandKind says what a command does with its accounts.
type commandKind int

const (
	// fetching commands (pop3, imap sync) end with the run summary and keep
	// each account's record of temporary failures (see recordFailure).
	fetching commandKind = iota
	// listing commands (imap list) print their own output, and leave the
	// record alone: a listing says little about whether mail arrives.
	listing
)

// accountRun is what a command does for one account, with the lock held
// (except in a dry run, which writes nothing) and the secret resolved.
type accountRun func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error

// runAccounts runs fn for each account in turn, reports each account's
// error once, and returns an error whose kind gives the exit code: the kind
// shared by all failures, or Partial when some accounts failed and others
// did not or when they failed differently.
//
// Each account's run is bounded by its deadline, counted from the start of
// this run (so that a run of several accounts ends within the longest of
// their deadlines); when it passes, the account stops as on Ctrl-C and
// fails as a temporary failure. A signal (SIGINT, SIGTERM) stops the
// account at work, starts no other, and makes the whole run exit 130 or
// 143 with one line that says so.
func runAccounts(c *cli.Context, protocol string, kind commandKind, fn accountRun) error {
	accounts, jobs, err := loadRun(c, protocol)
	if err != nil {
		return err
	}
	start := time.Now()
	r := newRenderer(c)
	r.SetSummary(kind == fetching)
	names := make([]string, len(accounts))
	for i, a := range accounts {
		names[i] = a.Name
	}
	r.SetAccounts(names) // the summary lists them in the file's order
	results := make([]error, len(accounts))
	started := runConcurrently(c.Context, len(accounts), jobs, func(i int) {
		a := accounts[i]
		// This is the one layer that starts and ends an account
		// (report.AccountStart, report.AccountDone); the engines report
		// folders and messages.
		r.Emit(report.Event{Kind: report.AccountStart, Time: time.Now(), Account: a.Name, Protocol: a.Protocol})
		results[i] = runAccount(c, a, start, kind, r, fn)
		r.Emit(report.Event{Kind: report.AccountDone, Time: time.Now(), Account: a.Name, Protocol: a.Protocol, Err: results[i]})
	})
	var failed []error
	for _, err := range results[:started] {
		if err != nil {
			failed = append(failed, err)
		}
	}
	stop := signalOf(c.Context)
	exit := combine(failed, len(accounts))
	if stop != nil {
		// Stopped by a signal: that decides the exit code, whatever the
		// accounts did. The account at work has said so in its line;
		// when none was at work (the signal came between two), main
		// prints the one line.
		exit = stop.err()
		if !slices.ContainsFunc(failed, func(err error) bool { return signalOfErr(err) != nil }) {
			r.Close(failure.Code(exit))
			return exit
		}
	}
	r.Close(failure.Code(exit))
	if exit == nil {
		return nil
	}
	return &alreadyReported{exit}
}

// defaultAccountJobs is how many accounts run at once unless
// account-jobs says otherwise: enough to overlap their logins and waits,
// few enough that a machine with many accounts does not open hundreds of
// connections at once (each IMAP account opens up to its own jobs).
const defaultAccountJobs = 4

// runConcurrently calls work(i) for i in [0, n), at most jobs at a time,
// in order of i, and returns how many it started: after a signal (ctx
// done) it starts none. One slow or failing call holds up no other beyond
// its own slot.
func runConcurrently(ctx context.Context, n, jobs int, work func(i int)) int {
	slots := make(chan struct{}, max(jobs, 1))
	var wg gosync.WaitGroup
	started := 0
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-slots }()
			work(i)
		})
	}
	wg.Wait()
	return started
}

// runAccount runs one account: the state directory and lock, the secret,
// then fn under the account's deadline. The caller reports the returned
// error once, in its report.AccountDone: the CLI may still change the
// engine's error (a deadline, a failure that lasted too long).
func runAccount(c *cli.Context, a *config.Account, start time.Time, kind commandKind, r *report.Renderer, fn accountRun) error {
	ctx := c.Context
	if a.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, start.Add(a.Deadline), deadlineError(a.Deadline))
		defer cancel()
	}
	// stopped gives the cause of a stop (a signal, the deadline) instead
	// of whatever the engine made of the cancellation: one error per
	// folder, a connection "closed".
	stopped := func(err error) error {
		if err != nil && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return stopped(err) // the deadline passed before this account's turn
	}
	dry := flagBool(c, "dry-run")
	if !dry {
		if err := maildir.MkdirAllDurable(a.StateDir, 0o700); err != nil {
			return failure.Wrap(failure.LocalIO, fmt.Errorf("state directory: %w", err))
		}
		release, err := a.Lock(ctx, flagWait(c))
		if err != nil {
			return stopped(err)
		}
		defer release()
	}
	secret, err := resolveSecret(ctx, c, a)
	if err == nil {
		err = fn(ctx, a, secret, &accountSink{ctx: ctx, next: r})
	}
	err = stopped(err)
	if !dry && kind == fetching {
		// With the lock held: two runs never count at once.
		err = recordFailure(a, err, time.Now())
	}
	return err
}

// accountSink passes an engine's events on to the renderer, except,
// once the account was stopped (a signal, the deadline), the errors that
// the stop caused: each folder at work would report its own cancellation,
// where one line says it all.
//
// Transition: fetch.Run and sync.Run still emit report.AccountStart and
// report.AccountDone of their own; runAccounts is the one layer that
// reports an account's start and end, so those are dropped here. Once the
// engines emit folder and message events only, the first case goes.
type accountSink struct {
	ctx  context.Context
	next report.Sink
}

func (s *accountSink) Emit(e report.Event) {
	switch {
	case e.Kind == report.AccountStart || e.Kind == report.AccountDone:
		return
	case e.Kind == report.Error && s.ctx.Err() != nil:
		return
	}
	s.next.Emit(e)
}

// promptMu keeps the secrets of accounts that run at once from asking the
// person at the terminal at the same time (a prompt, a pinentry of a
// password-command). Without a terminal nothing asks, and nothing waits.
var promptMu gosync.Mutex

func resolveSecret(ctx context.Context, c *cli.Context, a *config.Account) (string, error) {
	if term.IsTerminal(int(os.Stdin.Fd())) {
		promptMu.Lock()
		defer promptMu.Unlock()
	}
	return a.SecretWith(ctx, secretOptions(c))
}

// secretOptions shows password-command's stderr only to a person: with
// --verbose, on a terminal. Anywhere else (a cron mail, a journal, a CI
// log) it could keep a password that a failing helper printed.
func secretOptions(c *cli.Context) config.SecretOptions {
	if flagBool(c, "verbose") && c.App.ErrWriter == os.Stderr && term.IsTerminal(int(os.Stderr.Fd())) {
		return config.SecretOptions{CommandStderr: os.Stderr}
	}
	return config.SecretOptions{}
}

func combine(failed []error, total int) error {
	if len(failed) == 0 {
		return nil
	}
	kind := failure.Combined(failed, total)
	if len(failed) == 1 {
		return failure.Wrap(kind, failed[0])
	}
	msgs := make([]string, len(failed))
	for i, err := range failed {
		msgs[i] = err.Error()
	}
	return failure.Wrap(kind, errors.New(strings.Join(msgs, "; ")))
}
