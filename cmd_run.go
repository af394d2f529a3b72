package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
)

// runCommand runs every configured account by its protocol, so that one
// cron line or timer covers a mixed setup.
func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "fetch every account by its protocol: POP3 accounts as `pop3`, IMAP accounts as `imap sync`",
		UsageText: "mailfetch run [options]",
		Description: "Runs each account of the config file (or those named with --account) as its own command\n" +
			"would: a POP3 account downloads (and deletes, unless keep = true), an IMAP account syncs. One\n" +
			"summary and one exit code for the whole run, as with several accounts of one protocol.\n\n" + exitCodesHelp,
		Flags: concat(runFlags(), []cli.Flag{accountJobsFlag()}, limitFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "allow-mass-delete", Category: imapCategory, Usage: "IMAP accounts: allow this run to delete more than 100 messages, or more than a quarter, of a folder (see imap sync --help)", DisableDefaultText: true},
		}),
		Action: func(c *cli.Context) error {
			pop3, imap := pop3Run(c), imapSyncRun(c)
			return runAccounts(c, "", fetching, func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error {
				switch a.Protocol {
				case config.ProtocolPOP3:
					return pop3(ctx, a, secret, sink)
				case config.ProtocolIMAP:
					return imap(ctx, a, secret, sink)
				}
				return failure.New(failure.Usage, fmt.Sprintf("account %q: unknown protocol %q", a.Name, a.Protocol))
			})
		},
	}
}
