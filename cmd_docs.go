package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// manCommand prints the man page, generated from the app's own definition so
// that it can never disagree with --help. doc/mailfetch.1 is its output
// (a test keeps the two the same).
func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print a man page (roff): mailfetch(1), or with 5 mailfetch.toml(5), the config file",
		UsageText: "mailfetch man [1|5] > ~/.local/share/man/man1/mailfetch.1",
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "", "1":
				return writeMan(c.App)
			case "5", "toml":
				_, err := fmt.Fprint(c.App.Writer, tomlManPage())
				return err
			}
			return failure.New(failure.Usage, fmt.Sprintf("man: no section %q: 1 (mailfetch) or 5 (mailfetch.toml)", c.Args().First()))
		},
	}
}

func writeMan(app *cli.App) error {
	page, err := app.ToManWithSection(1)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(app.Writer, page+manSections())
	return err
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		UsageText: "mailfetch completion bash|zsh|fish",
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(c.App.Writer, s)
				return err
			}
			return failure.New(failure.Usage, "completion: name a shell: bash, zsh or fish")
		},
	}
}

// bashCompletion and zshCompletion call back into mailfetch with
// --generate-bash-completion, urfave/cli's completion protocol, so the
// completions follow the app definition.
const bashCompletion = `# mailfetch bash completion; source it or put it in ~/.local/share/bash-completion/completions/mailfetch
_mailfetch() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == -* ]]; then
    words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    words=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}
complete -o bashdefault -o default -F _mailfetch mailfetch
`

const zshCompletion = `#compdef mailfetch
_mailfetch() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _mailfetch mailfetch
`
