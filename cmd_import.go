package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/peerconf"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "print a config.toml made from the config of mbsync, offlineimap, getmail, fetchmail or mpop",
		UsageText: "mailfetch import mbsync|offlineimap|getmail|fetchmail|mpop [FILE] > config.toml",
		Description: "Reads the other fetcher's config (FILE, or where that fetcher looks by default: ~/.mbsyncrc or\n" +
			"$XDG_CONFIG_HOME/isyncrc, ~/.offlineimaprc, ~/.getmail/getmailrc*, ~/.fetchmailrc, ~/.mpoprc) and prints\n" +
			"the equivalent mailfetch config on standard output. Settings without an equivalent become comments\n" +
			"that name them; plaintext passwords are never printed. What needs a decision before the first run is\n" +
			"also said on standard error. Nothing is run, contacted or written.",
		Action: runImport,
	}
}

func runImport(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 || len(args) > 2 {
		return failure.New(failure.Usage, "import: name the fetcher to import from ("+strings.Join(peerconf.Peers, ", ")+") and optionally its config file")
	}
	peer := args[0]
	if !slices.Contains(peerconf.Peers, peer) {
		return failure.New(failure.Usage, fmt.Sprintf("import: unknown fetcher %q: name one of %s", peer, strings.Join(peerconf.Peers, ", ")))
	}
	env := importEnv()
	var files []string
	if len(args) == 2 {
		files = []string{args[1]}
	} else {
		var err error
		files, err = peerconf.DefaultFiles(peer, env)
		if err != nil {
			if errors.Is(err, peerconf.ErrNoConfig) {
				return failure.New(failure.Usage, fmt.Sprintf("import: %v: name the file: mailfetch import %s FILE", err, peer))
			}
			return failure.Wrap(failure.Usage, fmt.Errorf("import: %w", err))
		}
	}
	res, err := peerconf.Import(peer, files, env)
	if err != nil {
		return failure.Wrap(failure.Usage, fmt.Errorf("import: %w", err))
	}
	if err := res.WriteTOML(c.App.Writer); err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("import: %w", err))
	}
	for _, w := range res.Warnings() {
		fmt.Fprintf(c.App.ErrWriter, "mailfetch: import: %s\n", w)
	}
	return nil
}

// importEnv is the environment the peers' defaults depend on.
func importEnv() peerconf.Env {
	env := peerconf.Env{Home: os.Getenv("HOME"), ConfigHome: os.Getenv("XDG_CONFIG_HOME"), User: os.Getenv("USER")}
	if env.User == "" {
		env.User = os.Getenv("LOGNAME")
	}
	if env.Home == "" || env.User == "" {
		if u, err := user.Current(); err == nil {
			if env.Home == "" {
				env.Home = u.HomeDir
			}
			if env.User == "" {
				env.User = u.Username
			}
		}
	}
	return env
}
