// Command mailfetch fetches mail from POP3 and IMAP servers into a local
// Maildir: `mailfetch pop3` downloads and deletes (or keeps, with --keep),
// `mailfetch imap sync` mirrors folders and leaves the mail on the server.
//
// This file wires the urfave/cli app: commands, flags, exit codes. The
// engines (fetch/, sync/) decide; the reporter (report/) renders.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// exitCodesHelp is shown in --help and the man page; README.md repeats it.
const exitCodesHelp = `EXIT STATUS:
   0   success, whether there was new mail or not
   1   any other error (a command the server refused)
   3   partial failure: some messages or folders failed, the rest completed
   4   another mailfetch run holds the account's lock (see --wait)
   5   refused to delete a large share of a folder; nothing was deleted
   6   the server's certificate is not trusted (see ca-file, fingerprint)
   64  usage or configuration error
   68  unknown host: DNS says the host name does not exist
   69  temporary failures for longer than fail-after (default 24h)
   74  local I/O failure (disk full, permissions, not a Maildir)
   75  temporary failure (network, timeout, server busy, deadline): retry later
   76  protocol error: the server speaks another protocol, or TLS/plain text mixed up
   77  authentication failed
   130 interrupted (SIGINT, Ctrl-C); 143 terminated (SIGTERM): stopped safely`

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "mailfetch",
		Usage: "fetch mail from POP3 and IMAP servers into a Maildir",
		Description: "mailfetch downloads mail into a local Maildir. `mailfetch pop3` downloads and deletes\n" +
			"(or keeps, with --keep); `mailfetch imap sync` mirrors IMAP folders and leaves mail on the server.\n" +
			"Accounts come from a TOML config file (default $XDG_CONFIG_HOME/mailfetch/config.toml) or from flags.\n" +
			"Every account setting can be given as a flag; flags override the file.\n\n" + exitCodesHelp,
		Version:              buildVersion(),
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Flags:                runFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return failure.New(failure.Usage, fmt.Sprintf("unknown command %q: see `mailfetch --help`", c.Args().First()))
			}
			return cli.ShowAppHelp(c)
		},
		// The CLI prints the error once and exits with its code in main, so
		// that deferred clean-up (locks, progress display) runs first.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return failure.Wrap(failure.Usage, err)
		},
		Commands: []*cli.Command{
			pop3Command(),
			imapCommand(),
			runCommand(),
			accountsCommand(),
			importCommand(),
			versionCommand(),
			manCommand(),
			completionCommand(),
		},
	}
	for _, c := range app.Commands {
		setUsageErrors(c)
	}
	setCompletion(app)
	return app
}

// setUsageErrors makes flag errors of every command exit with the usage code.
func setUsageErrors(c *cli.Command) {
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return failure.Wrap(failure.Usage, err) }
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}

func main() {
	ctx, stop := stopOnSignals(context.Background())
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the app and returns the exit code; the error, if any, has been
// printed once on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Metadata = map[string]any{argsKey: args}
	err := app.RunContext(ctx, args)
	var printed *alreadyReported
	if stop := signalOf(ctx); stop != nil {
		// Stopped by a signal: whatever the command made of it, one line
		// says so, and the code is the signal's.
		if !errors.As(err, &printed) {
			fmt.Fprintf(stderr, "mailfetch: %v\n", stop)
		}
		return failure.Code(stop.err())
	}
	if err == nil {
		return failure.CodeOK
	}
	// urfave/cli reports an unknown command ("No help topic for 'x'") with
	// an exit error of its own, code 3: that is a usage error.
	var exit cli.ExitCoder
	if errors.As(err, &exit) && failure.KindOf(err) == failure.Other {
		err = failure.Wrap(failure.Usage, err)
	}
	if !errors.As(err, &printed) {
		fmt.Fprintf(stderr, "mailfetch: %v\n", err)
	}
	return failure.Code(err)
}

// alreadyReported wraps an error whose text the reporter has shown already,
// so that main does not print it twice.
type alreadyReported struct{ err error }

func (e *alreadyReported) Error() string { return e.err.Error() }
func (e *alreadyReported) Unwrap() error { return e.err }
