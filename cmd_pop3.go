package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/fetch"
	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/report"
)

func pop3Command() *cli.Command {
	return &cli.Command{
		Name:      "pop3",
		Usage:     "download mail from POP3 accounts into the Maildir, then delete it on the server",
		UsageText: "mailfetch pop3 [options]",
		Description: "Downloads every message of each POP3 account into its Maildir (INBOX) and deletes it on the\n" +
			"server once the message is safely on disk (fsynced and recorded). With --keep the mail stays on\n" +
			"the server and each message is fetched once, tracked by UIDL. A run killed at any moment loses\n" +
			"nothing and, run again, fetches nothing twice.\n\n" + exitCodesHelp,
		Flags:  concat(runFlags(), []cli.Flag{accountJobsFlag()}, accountFlags(), pop3Flags()),
		Action: runPOP3,
	}
}

func runPOP3(c *cli.Context) error {
	return runAccounts(c, config.ProtocolPOP3, fetching, pop3Run(c))
}

// pop3Run is what `pop3` (and `run`, for POP3 accounts) does with one
// account.
func pop3Run(c *cli.Context) accountRun {
	trace := traceWriter(c)
	dry := flagBool(c, "dry-run")
	return func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error {
		opt, err := pop3Options(a, secret, sink, trace, dry)
		if err != nil {
			return err
		}
		opt.All = flagBool(c, "all")
		_, err = fetch.Run(ctx, opt)
		return err
	}
}

// pop3Options turns an account into the engine's settings.
func pop3Options(a *config.Account, secret string, sink report.Sink, trace traceOut, dry bool) (fetch.Options, error) {
	sec, to, err := connection(a)
	if err != nil {
		return fetch.Options{}, err
	}
	opt := fetch.Options{
		Account: a.Name, Host: a.Host, Port: a.Port, Security: sec, Timeouts: to,
		User: a.User, Secret: secret, Auth: a.Auth,
		StateDir: a.StateDir, Keep: a.Keep,
		DeleteAfter: time.Duration(a.DeleteAfter) * 24 * time.Hour,
		MaxSize:     a.MaxSize, MaxMessages: a.MaxMessages, DryRun: dry,
		Sink: sink, Trace: trace.writer(),
	}
	if opt.Dest, err = destination(a, dry); err != nil {
		return fetch.Options{}, err
	}
	return opt, nil
}
