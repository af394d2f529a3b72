package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	mailsync "github.com/mailfetch/mailfetch/sync"
)

func imapCommand() *cli.Command {
	return &cli.Command{
		Name:  "imap",
		Usage: "sync IMAP folders into the Maildir (mail stays on the server)",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return failure.New(failure.Usage, fmt.Sprintf("unknown command \"imap %s\": use `mailfetch imap sync` or `mailfetch imap list`", c.Args().First()))
			}
			return cli.ShowSubcommandHelp(c)
		},
		Subcommands: []*cli.Command{
			{
				Name:      "sync",
				Usage:     "mirror the account's IMAP folders into the Maildir, both ways for flags",
				UsageText: "mailfetch imap sync [options]",
				Description: "Fetches new messages of every selected folder (BODY.PEEK: the server's \\Seen flags are not\n" +
					"touched), keeps flags in step both ways, and removes locally what was expunged on the server.\n" +
					"Mail is never removed from the server unless --expunge-remote is given. Incremental by\n" +
					"UIDVALIDITY and UID; a UIDVALIDITY change is repaired by re-matching, not by re-downloading.\n" +
					"With --mda the sync becomes a one-way fetch of new mail into the command: UIDs are tracked,\n" +
					"flags are not, since a pipe keeps no files.\n\n" + exitCodesHelp,
				Flags:  concat(runFlags(), []cli.Flag{accountJobsFlag()}, accountFlags(), imapSyncFlags()),
				Action: runIMAPSync,
			},
			{
				Name:      "list",
				Usage:     "list the account's folders with message and unseen counts and their local paths",
				UsageText: "mailfetch imap list [options]",
				// A listing changes nothing: no --dry-run, no sync settings.
				Flags: concat(selectFlags(), outputFlags(), []cli.Flag{waitFlag()},
					connectionFlags(), deliveryFlags(), []cli.Flag{foldersFlag()}),
				Action: runIMAPList,
			},
		},
	}
}

func imapOptions(a *config.Account, secret string, sink report.Sink, trace traceOut, dry bool) (mailsync.Options, error) {
	sec, to, err := connection(a)
	if err != nil {
		return mailsync.Options{}, err
	}
	opt := mailsync.Options{
		Account: a.Name, Host: a.Host, Port: a.Port, Security: sec, Timeouts: to,
		User: a.User, Secret: secret, Auth: a.Auth,
		StateDir: a.StateDir, Patterns: a.Folders, Jobs: a.Jobs,
		ExpungeRemote: a.ExpungeRemote, DryRun: dry,
		Sink: sink, Trace: trace.writer(),
	}
	// One destination for both engines (connection.go); sync takes it as
	// its Store or its MDA.
	dest, err := destination(a, dry)
	if err != nil {
		return mailsync.Options{}, err
	}
	opt.Store, opt.MDA = dest.Store(), dest.MDA()
	return opt, nil
}

func runIMAPSync(c *cli.Context) error {
	return runAccounts(c, config.ProtocolIMAP, fetching, imapSyncRun(c))
}

// imapSyncRun is what `imap sync` (and `run`, for IMAP accounts) does with
// one account.
func imapSyncRun(c *cli.Context) accountRun {
	trace := traceWriter(c)
	dry := flagBool(c, "dry-run")
	return func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error {
		opt, err := imapOptions(a, secret, sink, trace, dry)
		if err != nil {
			return err
		}
		opt.AllowMassDelete = flagBool(c, "allow-mass-delete")
		_, err = mailsync.Run(ctx, opt)
		return err
	}
}

func runIMAPList(c *cli.Context) error {
	trace := traceWriter(c)
	asJSON := flagBool(c, "json")
	return runAccounts(c, "imap", listing, func(ctx context.Context, a *config.Account, secret string, sink report.Sink) error {
		// Listing writes nothing: like a dry run it leaves the Maildir alone.
		opt, err := imapOptions(a, secret, sink, trace, true)
		if err != nil {
			return err
		}
		folders, err := mailsync.List(ctx, opt)
		if err != nil {
			return err
		}
		out := c.App.Writer
		if asJSON {
			for _, f := range folders {
				b, _ := json.Marshal(struct {
					Type     string `json:"type"`
					Account  string `json:"account"`
					Folder   string `json:"folder"`
					Messages int    `json:"messages"`
					Unseen   int    `json:"unseen"`
					Path     string `json:"path,omitempty"`
				}{"folder", a.Name, f.Name, f.Messages, f.Unseen, f.Path})
				fmt.Fprintf(out, "%s\n", b)
			}
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tMESSAGES\tUNSEEN\tLOCAL PATH\n", a.Name)
		for _, f := range folders {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", f.Name, f.Messages, f.Unseen, f.Path)
		}
		return tw.Flush()
	})
}
