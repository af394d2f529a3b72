package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/peerconf"
	"github.com/mailfetch/mailfetch/maildir"
)

// Shell completion: the scripts of `mailfetch completion` call mailfetch
// again with the words typed so far and --generate-bash-completion
// (urfave/cli's protocol); completeWords answers with the candidates for
// the next word: a command's subcommands (without urfave's help and h), a
// command's flags, or the values of a flag — account names and the
// folders of their Maildirs from the config file, the choices of --tls,
// --auth and --layout, the peers of `import`, the shells of `completion`.

// argsKey is where run keeps the command line, for completion to read
// (urfave's own completion reads os.Args, which a test cannot set).
const argsKey = "args"

// setCompletion gives the app and every command the completer.
func setCompletion(app *cli.App) {
	app.BashComplete = func(c *cli.Context) { completeWords(c, nil) }
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.BashComplete = func(c *cli.Context) { completeWords(c, cmd) }
			walk(cmd.Subcommands)
		}
	}
	walk(app.Commands)
}

func completeWords(c *cli.Context, cmd *cli.Command) {
	args, _ := c.App.Metadata[argsKey].([]string)
	if args == nil {
		args = os.Args
	}
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--generate-bash-completion" })
	prev := ""
	if len(args) > 1 {
		prev = args[len(args)-1]
	}
	w := c.App.Writer
	if values, ok := flagValues(prev, args); ok {
		printEach(w, values)
		return
	}
	flags, subs := c.App.Flags, c.App.Commands
	if cmd != nil {
		flags, subs = cmd.Flags, cmd.Subcommands
	}
	if strings.HasPrefix(prev, "-") {
		for _, f := range flags {
			for _, name := range f.Names() {
				if len(name) > 1 {
					fmt.Fprintln(w, "--"+name)
				}
			}
		}
		return
	}
	switch {
	case cmd != nil && cmd.Name == "import":
		printEach(w, peerconf.Peers)
	case cmd != nil && cmd.Name == "completion":
		printEach(w, []string{"bash", "zsh", "fish"})
	default:
		for _, sub := range subs {
			if !sub.Hidden && sub.Name != "help" {
				fmt.Fprintln(w, sub.Name)
			}
		}
	}
}

// flagValues returns the candidates for the value of the flag prev, when
// prev is a flag that takes one of a known set.
func flagValues(prev string, args []string) ([]string, bool) {
	switch prev {
	case "--account", "-a":
		return accountNames(args), true
	case "--folders":
		return localFolders(args), true
	case "--tls":
		return []string{config.TLSImplicit, config.TLSStartTLS, config.TLSNone}, true
	case "--layout":
		return []string{config.LayoutMaildirPP, config.LayoutFS}, true
	case "--auth":
		return []string{"auto", "plain", "login", "cram-md5", "xoauth2", "oauthbearer", "user", "apop"}, true
	}
	return nil, false
}

// completionConfig loads the config file the command line names (--config,
// -c, MAILFETCH_CONFIG) or the default one; nil when there is none or it
// does not load (completion says nothing rather than fail).
func completionConfig(args []string) *config.Config {
	path := os.Getenv("MAILFETCH_CONFIG")
	for i, a := range args {
		switch {
		case (a == "--config" || a == "-c") && i+1 < len(args):
			path = args[i+1]
		case strings.HasPrefix(a, "--config="):
			path = strings.TrimPrefix(a, "--config=")
		}
	}
	if path == "" {
		path = config.DefaultPath()
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}
	return cfg
}

func accountNames(args []string) []string {
	cfg := completionConfig(args)
	if cfg == nil {
		return nil
	}
	var out []string
	for _, a := range cfg.Accounts {
		out = append(out, a.Name)
	}
	return out
}

// localFolders lists the folders of the Maildirs of the accounts on the
// command line (--account), or of every IMAP account: what a folders
// pattern would name, '/' between levels.
func localFolders(args []string) []string {
	cfg := completionConfig(args)
	if cfg == nil {
		return nil
	}
	var names []string
	for i, a := range args {
		if (a == "--account" || a == "-a") && i+1 < len(args) {
			names = append(names, args[i+1])
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range cfg.Accounts {
		if a.Maildir == "" || (len(names) > 0 && !slices.Contains(names, a.Name)) || (len(names) == 0 && a.Protocol != config.ProtocolIMAP) {
			continue
		}
		layout, err := maildir.ParseLayout(a.Layout)
		if err != nil {
			continue
		}
		store, err := maildir.OpenView(a.Maildir, layout)
		if err != nil {
			continue
		}
		folders, err := store.Folders()
		if err != nil {
			continue
		}
		for _, f := range folders {
			if name := strings.Join(f, "/"); !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

func printEach(w io.Writer, words []string) {
	for _, s := range words {
		fmt.Fprintln(w, s)
	}
}
