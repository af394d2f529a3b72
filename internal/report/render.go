package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

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

// Renderer is the one Sink the CLI uses: it renders events as progress bars,
// plain lines or JSON Lines, and keeps the per-account totals for the
// summary that Close prints.
type Renderer struct {
	opt Options

	mu       gosync.Mutex
	accounts map[string]*AccountSummary
	order    []string
	progress *mpb.Progress
	bars     map[string]*folderBar
	stderr   io.Writer // through the progress container while it runs
	noSum    bool
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
}

type folderBar struct {
	bar   *mpb.Bar
	count atomic.Int64
	total int64
}

// NewRenderer returns a Renderer writing as opt says.
func NewRenderer(opt Options) *Renderer {
	r := &Renderer{opt: opt, accounts: map[string]*AccountSummary{}, bars: map[string]*folderBar{}, stderr: opt.Stderr}
	if opt.Progress && !opt.Quiet && !opt.JSON {
		r.progress = mpb.New(mpb.WithOutput(opt.Stderr), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
		r.stderr = r.progress
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

// Emit renders one event. It is safe for concurrent use.
func (r *Renderer) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.account(e)
	switch e.Kind {
	case Delivered:
		a.Delivered++
		a.Bytes += e.Size
		r.advance(e)
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
		// The engine and the CLI may both end an account; its error is
		// shown once.
		if e.Err == nil || a.Error != "" {
			return
		}
		a.Error = e.Err.Error()
		a.ErrorKind = failure.KindOf(e.Err).String()
		fmt.Fprintf(r.stderr, "mailfetch: %s: %v\n", e.Account, e.Err)
		return
	case FolderStart:
		r.startBar(e)
	case FolderDone:
		r.finishBar(e)
	}
	if r.opt.JSON {
		r.emitJSON(e)
	}
	r.emitText(e)
}

func barKey(e Event) string { return e.Account + "\x00" + e.Folder }

func (r *Renderer) startBar(e Event) {
	if r.progress == nil || e.Count == 0 || r.opt.DryRun {
		return
	}
	fb := &folderBar{total: e.Count}
	name := e.Account + " " + e.Folder
	if len(name) > 28 {
		name = name[:27] + "…"
	}
	// A finished folder makes room: accounts with dozens of folders
	// would otherwise scroll the screen.
	fb.bar = r.progress.AddBar(max(e.Bytes, 1), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 29})),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("%d/%d msgs", fb.count.Load(), fb.total)
			}, decor.WC{W: 16}),
			decor.Counters(decor.SizeB1024(0), " % .1f / % .1f"),
		),
	)
	r.bars[barKey(e)] = fb
}

func (r *Renderer) advance(e Event) {
	if fb := r.bars[barKey(e)]; fb != nil {
		fb.count.Add(1)
		fb.bar.IncrInt64(e.Size)
	}
}

func (r *Renderer) finishBar(e Event) {
	if fb := r.bars[barKey(e)]; fb != nil {
		fb.bar.SetTotal(-1, true)
		delete(r.bars, barKey(e))
	}
}

// emitText writes the human side: errors always (stderr), notices and skips
// unless quiet, a line per message when verbose or listing a dry run.
func (r *Renderer) emitText(e Event) {
	where := e.Account
	if e.Folder != "" && e.Protocol != "pop3" {
		where += ": " + e.Folder
	}
	switch e.Kind {
	case Error:
		fmt.Fprintf(r.stderr, "mailfetch: %s: %v\n", where, e.Err)
		return
	}
	if r.opt.Quiet || r.opt.JSON {
		return
	}
	switch e.Kind {
	case Notice:
		fmt.Fprintf(r.stderr, "mailfetch: %s: %s\n", where, e.Text)
	case Skipped:
		fmt.Fprintf(r.stderr, "mailfetch: %s: skipped message %s (%s): %s\n", where, e.ServerID, humanBytes(e.Size), e.Text)
	case WouldFetch:
		fmt.Fprintln(r.opt.Stdout, strings.TrimSpace(fmt.Sprintf("%s: would fetch %s (%s) %s", where, e.ServerID, humanBytes(e.Size), describe(e))))
	case WouldDelete:
		side := "on the server"
		if e.Local {
			side = "locally"
		}
		fmt.Fprintf(r.opt.Stdout, "%s: would delete %s %s\n", where, e.ServerID, side)
	case FlagsChanged:
		if r.opt.DryRun || r.opt.Verbose {
			side := "on the server"
			if e.Local {
				side = "locally"
			}
			verb := "set"
			if r.opt.DryRun {
				verb = "would set"
			}
			fmt.Fprintf(r.opt.Stdout, "%s: %s flags of %s to %q %s\n", where, verb, e.ServerID, e.Flags, side)
		}
	case Delivered:
		if r.opt.Verbose {
			fmt.Fprintln(r.opt.Stdout, strings.TrimSpace(fmt.Sprintf("%s: %s %s %s", where, e.ServerID, e.Path, describe(e))))
		}
	case Deleted:
		if r.opt.Verbose {
			side := "from the server"
			if e.Local {
				side = "locally"
			}
			fmt.Fprintf(r.opt.Stdout, "%s: deleted %s %s\n", where, e.ServerID, side)
		}
	}
}

func describe(e Event) string {
	var parts []string
	if e.From != "" {
		parts = append(parts, "from "+e.From)
	}
	if e.Subject != "" {
		parts = append(parts, fmt.Sprintf("%q", e.Subject))
	}
	return strings.Join(parts, " ")
}

// jsonMessage is the --json object for message events. Its fields are a
// documented interface (README, "JSON output"): add, never rename.
type jsonMessage struct {
	Type      string `json:"type"`
	Account   string `json:"account"`
	Protocol  string `json:"protocol,omitempty"`
	Folder    string `json:"folder,omitempty"`
	ID        string `json:"id,omitempty"`
	Path      string `json:"path,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Flags     string `json:"flags,omitempty"`
	Side      string `json:"side,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	From      string `json:"from,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Date      string `json:"date,omitempty"`
	Text      string `json:"text,omitempty"`
	Error     string `json:"error,omitempty"`
	Kind      string `json:"error_kind,omitempty"`
}

var jsonType = map[Kind]string{
	Delivered: "message", WouldFetch: "would-fetch", Deleted: "deleted", WouldDelete: "would-delete",
	FlagsChanged: "flags", Skipped: "skipped", Notice: "notice", Error: "error",
}

func (r *Renderer) emitJSON(e Event) {
	typ, ok := jsonType[e.Kind]
	if !ok {
		return
	}
	m := jsonMessage{Type: typ, Account: e.Account, Protocol: e.Protocol, Folder: e.Folder, ID: e.ServerID,
		Path: e.Path, Size: e.Size, Flags: e.Flags, MessageID: e.MessageID, From: e.From, Subject: e.Subject, Text: e.Text}
	if e.Kind == Deleted || e.Kind == WouldDelete || e.Kind == FlagsChanged {
		m.Side = "server"
		if e.Local {
			m.Side = "local"
		}
	}
	if !e.Date.IsZero() {
		m.Date = e.Date.Format(time.RFC3339)
	}
	if e.Err != nil {
		m.Error = e.Err.Error()
		m.Kind = failure.KindOf(e.Err).String()
	}
	writeJSON(r.opt.Stdout, m)
}

func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(append(b, '\n'))
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

// Close stops the progress display and prints the summary: a JSON object with
// --json, a line per account otherwise (none with --quiet). exitCode is the
// code the process is about to exit with.
func (r *Renderer) Close(exitCode int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.progress != nil {
		for k, fb := range r.bars {
			fb.bar.Abort(false)
			delete(r.bars, k)
		}
		r.progress.Wait()
		r.progress = nil
		r.stderr = r.opt.Stderr
	}
	s := Summary{Type: "summary", DryRun: r.opt.DryRun, ExitCode: exitCode, Accounts: []*AccountSummary{}}
	for _, name := range r.order {
		a := r.accounts[name]
		s.Accounts = append(s.Accounts, a)
		s.Delivered += a.Delivered
		s.Bytes += a.Bytes
		s.Deleted += a.Deleted
		s.Errors += a.Errors
		if a.Error != "" {
			s.Errors++
		}
	}
	if r.noSum {
		return
	}
	if r.opt.JSON {
		writeJSON(r.opt.Stdout, s)
		return
	}
	if r.opt.Quiet || r.opt.DryRun {
		return
	}
	for _, a := range s.Accounts {
		if a.Error != "" && a.Delivered == 0 {
			continue // the error itself was printed; a "no mail" line would mislead
		}
		fmt.Fprintf(r.opt.Stdout, "%s: %s\n", a.Account, a.line())
	}
}

func (a *AccountSummary) line() string {
	var parts []string
	if a.Delivered == 0 {
		parts = append(parts, "no new mail")
	} else {
		parts = append(parts, fmt.Sprintf("%d new (%s)", a.Delivered, humanBytes(a.Bytes)))
	}
	if a.Deleted > 0 {
		parts = append(parts, fmt.Sprintf("%d deleted on the server", a.Deleted))
	}
	if a.Removed > 0 {
		parts = append(parts, fmt.Sprintf("%d removed locally", a.Removed))
	}
	if a.Flags > 0 {
		parts = append(parts, fmt.Sprintf("%d flag changes", a.Flags))
	}
	if a.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", a.Skipped))
	}
	if a.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", a.Errors))
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
