package report

import (
	"io"
	gosync "sync"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Options chooses how a Renderer shows a run.
type Options struct {
	Stdout, Stderr io.Writer
	JSON           bool // JSON Lines on Stdout, one object per event that matters
	Quiet          bool // nothing but errors
	Verbose        bool // a line per message on a non-JSON run
	Progress       bool // progress bars on Stderr: only when it is a terminal
	DryRun         bool // the run only lists; its listing is the output
}

// Renderer is the one Sink the CLI uses: it keeps the per-account totals
// for the summary that Close prints, and hands each event to the printer
// the options chose: JSON Lines (--json), plain lines above progress bars
// (a terminal), or plain lines.
type Renderer struct {
	opt Options

	mu       gosync.Mutex
	out      printer
	accounts map[string]*AccountSummary
	order    []string
	noSum    bool
}

// printer shows a run in one output style. The Renderer calls it with its
// lock held, after counting the event in the totals, so a printer needs no
// lock of its own.
type printer interface {
	// event shows one event; never an AccountDone (see accountFailed).
	event(e Event)
	// accountFailed shows the error an account ended with, once per
	// account.
	accountFailed(account string, err error)
	// finish ends a live display (progress bars); after it, lines go
	// straight to their writer.
	finish()
	// summary shows the totals of the run, after finish.
	summary(s Summary)
}

// SetAccounts names the run's accounts in the order the summary lists
// them, whatever order their events come in (accounts run concurrently).
func (r *Renderer) SetAccounts(names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range names {
		if r.accounts[name] == nil {
			r.accounts[name] = &AccountSummary{Account: name}
			r.order = append(r.order, name)
		}
	}
}

// SetSummary turns the closing summary on (the default) or off.
func (r *Renderer) SetSummary(on bool) { r.noSum = !on }

// AccountSummary is the per-account part of the final summary.
type AccountSummary struct {
	Account   string `json:"account"`
	Protocol  string `json:"protocol"`
	Delivered int64  `json:"delivered"`
	Bytes     int64  `json:"bytes"`
	Deleted   int64  `json:"deleted"`
	Removed   int64  `json:"removed_local"`
	Flags     int64  `json:"flags_changed"`
	Skipped   int64  `json:"skipped"`
	Errors    int64  `json:"errors"`
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`

	seen bool // an event of it came: an account a signal kept from starting is not listed
}

// Summary is the --json object printed last.
type Summary struct {
	Type      string            `json:"type"`
	DryRun    bool              `json:"dry_run,omitempty"`
	Delivered int64             `json:"delivered"`
	Bytes     int64             `json:"bytes"`
	Deleted   int64             `json:"deleted"`
	Errors    int64             `json:"errors"`
	ExitCode  int               `json:"exit_code"`
	Accounts  []*AccountSummary `json:"accounts"`
}

// NewRenderer returns a Renderer writing as opt says.
func NewRenderer(opt Options) *Renderer {
	r := &Renderer{opt: opt, accounts: map[string]*AccountSummary{}}
	text := &textPrinter{stdout: opt.Stdout, stderr: opt.Stderr, quiet: opt.Quiet, verbose: opt.Verbose, dryRun: opt.DryRun}
	switch {
	case opt.JSON:
		r.out = &jsonPrinter{stdout: opt.Stdout, stderr: opt.Stderr}
	case opt.Progress && !opt.Quiet:
		r.out = newProgressPrinter(text, opt.Stderr, opt.DryRun)
	default:
		r.out = text
	}
	return r
}

func (r *Renderer) account(e Event) *AccountSummary {
	a := r.accounts[e.Account]
	if a == nil {
		a = &AccountSummary{Account: e.Account, Protocol: e.Protocol}
		r.accounts[e.Account] = a
		r.order = append(r.order, e.Account)
	}
	if a.Protocol == "" {
		a.Protocol = e.Protocol
	}
	return a
}

// Emit counts one event and shows it. It is safe for concurrent use.
func (r *Renderer) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.account(e)
	a.seen = true
	switch e.Kind {
	case Delivered:
		a.Delivered++
		a.Bytes += e.Size
	case Deleted:
		if e.Local {
			a.Removed++
		} else {
			a.Deleted++
		}
	case FlagsChanged:
		a.Flags++
	case Skipped:
		a.Skipped++
	case Error:
		a.Errors++
	case AccountDone:
		// An account's error is shown once, however many times its end
		// is reported.
		if e.Err == nil || a.Error != "" {
			return
		}
		a.Error = e.Err.Error()
		a.ErrorKind = failure.KindOf(e.Err).String()
		r.out.accountFailed(e.Account, e.Err)
		return
	}
	r.out.event(e)
}

// Close stops the progress display and prints the summary: a JSON object with
// --json, a line per account otherwise (none with --quiet). exitCode is the
// code the process is about to exit with.
func (r *Renderer) Close(exitCode int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.finish()
	if r.noSum {
		return
	}
	s := Summary{Type: "summary", DryRun: r.opt.DryRun, ExitCode: exitCode, Accounts: []*AccountSummary{}}
	for _, name := range r.order {
		a := r.accounts[name]
		if !a.seen {
			continue
		}
		s.Accounts = append(s.Accounts, a)
		s.Delivered += a.Delivered
		s.Bytes += a.Bytes
		s.Deleted += a.Deleted
		s.Errors += a.Errors
		if a.Error != "" {
			s.Errors++
		}
	}
	r.out.summary(s)
}

// where names the place of an event in a line: the account, and the
// folder of an IMAP event.
func where(e Event) string {
	w := e.Account
	if e.Folder != "" && e.Protocol != "pop3" {
		w += ": " + e.Folder
	}
	return w
}
