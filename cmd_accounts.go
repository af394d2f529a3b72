package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailfetch/mailfetch/fetch"
	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	mailsync "github.com/mailfetch/mailfetch/sync"
)

func accountsCommand() *cli.Command {
	return &cli.Command{
		Name:      "accounts",
		Usage:     "show the configured accounts as resolved (secrets hidden); --check logs in to each",
		UsageText: "mailfetch accounts [--check] [options]",
		// The account settings show how flags override the file.
		Flags: concat(selectFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per account", DisableDefaultText: true},
			traceFlag(),
			&cli.BoolFlag{Name: "check", Usage: "log in to each account and report what the server offers", DisableDefaultText: true},
		}, accountFlags()),
		Action: runAccountsCommand,
	}
}

// accountView is how an account is shown: everything but the secret.
type accountView struct {
	Type           string   `json:"type"`
	Name           string   `json:"account"`
	Protocol       string   `json:"protocol"`
	Server         string   `json:"server"`
	TLS            string   `json:"tls"`
	User           string   `json:"user,omitempty"`
	Auth           string   `json:"auth"`
	PasswordSource string   `json:"password_source"`
	Delivery       string   `json:"delivery"`
	StateDir       string   `json:"state_dir"`
	Failing        string   `json:"failing,omitempty"`
	Check          string   `json:"check,omitempty"`
	Capabilities   []string `json:"capabilities,omitempty"`
	Error          string   `json:"error,omitempty"`
}

func viewOf(a *config.Account) accountView {
	v := accountView{Type: "account", Name: a.Name, Protocol: a.Protocol,
		Server: fmt.Sprintf("%s:%d", a.Host, a.Port), TLS: a.TLS, User: a.User, Auth: a.Auth,
		PasswordSource: a.PasswordSource(), StateDir: a.StateDir}
	if a.MDA != "" {
		v.Delivery = "mda: " + a.MDA
	} else {
		v.Delivery = a.Maildir + " (" + a.Layout + ")"
	}
	return v
}

func runAccountsCommand(c *cli.Context) error {
	accounts, err := loadAccounts(c, "")
	if err != nil {
		return err
	}
	asJSON := flagBool(c, "json")
	check := c.Bool("check")
	trace := traceWriter(c)
	var failed []error
	for _, a := range accounts {
		v := viewOf(a)
		if rec, ok := failingSince(a); ok {
			v.Failing = fmt.Sprintf("temporary failures since %s (%d runs)", rec.Since.Local().Format("2006-01-02 15:04"), rec.Runs)
		}
		if check {
			err := checkAccount(c, a, &v, trace)
			if signalOf(c.Context) != nil {
				break // main says in one line that the run was stopped
			}
			if err != nil {
				v.Error = err.Error()
				fmt.Fprintf(c.App.ErrWriter, "mailfetch: %s: %v\n", a.Name, err)
				failed = append(failed, fmt.Errorf("%s: %w", a.Name, err))
			}
		}
		if asJSON {
			b, _ := json.Marshal(v)
			fmt.Fprintf(c.App.Writer, "%s\n", b)
			continue
		}
		printAccount(c, v)
	}
	if signalOf(c.Context) != nil {
		return nil // main says in one line that the run was stopped
	}
	if exit := combine(failed, len(accounts)); exit != nil {
		return &alreadyReported{exit} // each failure was printed above
	}
	return nil
}

func checkAccount(c *cli.Context, a *config.Account, v *accountView, trace traceOut) error {
	ctx := c.Context
	secret, err := a.SecretWith(ctx, secretOptions(c))
	if err != nil {
		return err
	}
	switch a.Protocol {
	case "pop3":
		opt, err := pop3Options(a, secret, report.Discard, trace, true)
		if err != nil {
			return err
		}
		res, err := fetch.Check(ctx, opt)
		if err != nil {
			return err
		}
		v.Check = fmt.Sprintf("ok: %d messages, %d bytes", res.Messages, res.Bytes)
		v.Capabilities = res.Capabilities
	case "imap":
		opt, err := imapOptions(a, secret, report.Discard, trace, true)
		if err != nil {
			return err
		}
		res, err := mailsync.Check(ctx, opt)
		if err != nil {
			return err
		}
		v.Check = fmt.Sprintf("ok: %d folders", res.Folders)
		v.Capabilities = res.Capabilities
	default:
		return failure.New(failure.Usage, "unknown protocol "+a.Protocol)
	}
	return nil
}

func printAccount(c *cli.Context, v accountView) {
	w := c.App.Writer
	fmt.Fprintf(w, "%s (%s)\n", v.Name, v.Protocol)
	fmt.Fprintf(w, "  server:    %s, tls %s\n", v.Server, v.TLS)
	fmt.Fprintf(w, "  login:     %s, auth %s, password from %s\n", v.User, v.Auth, v.PasswordSource)
	fmt.Fprintf(w, "  delivery:  %s\n", v.Delivery)
	fmt.Fprintf(w, "  state:     %s\n", v.StateDir)
	if v.Failing != "" {
		fmt.Fprintf(w, "  failing:   %s\n", v.Failing)
	}
	if v.Check != "" {
		fmt.Fprintf(w, "  check:     %s\n", v.Check)
		fmt.Fprintf(w, "  server has: %s\n", strings.Join(v.Capabilities, " "))
	}
	if v.Error != "" {
		fmt.Fprintf(w, "  check:     FAILED: %s\n", v.Error)
	}
}
