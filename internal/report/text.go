package report

import (
	"fmt"
	"io"
	"strings"
)

// textPrinter shows a run as lines for a person: errors always (stderr),
// notices and skips unless quiet (stderr), a line per message when verbose
// or listing a dry run (stdout), and a summary line per account.
type textPrinter struct {
	stdout, stderr io.Writer
	quiet          bool
	verbose        bool
	dryRun         bool
}

func (p *textPrinter) event(e Event) {
	where := where(e)
	switch e.Kind {
	case Error:
		fmt.Fprintf(p.stderr, "mailfetch: %s: %v\n", where, e.Err)
		return
	}
	if p.quiet {
		return
	}
	switch e.Kind {
	case Notice:
		fmt.Fprintf(p.stderr, "mailfetch: %s: %s\n", where, e.Text)
	case Skipped:
		fmt.Fprintf(p.stderr, "mailfetch: %s: skipped message %s (%s): %s\n", where, e.ServerID, humanBytes(e.Size), e.Text)
	case WouldFetch:
		fmt.Fprintln(p.stdout, strings.TrimSpace(fmt.Sprintf("%s: would fetch %s (%s) %s", where, e.ServerID, humanBytes(e.Size), describe(e))))
	case WouldDelete:
		side := "on the server"
		if e.Local {
			side = "locally"
		}
		fmt.Fprintf(p.stdout, "%s: would delete %s %s\n", where, e.ServerID, side)
	case FlagsChanged:
		if p.dryRun || p.verbose {
			side := "on the server"
			if e.Local {
				side = "locally"
			}
			verb := "set"
			if p.dryRun {
				verb = "would set"
			}
			fmt.Fprintf(p.stdout, "%s: %s flags of %s to %q %s\n", where, verb, e.ServerID, e.Flags, side)
		}
	case Delivered:
		if p.verbose {
			fmt.Fprintln(p.stdout, strings.TrimSpace(fmt.Sprintf("%s: %s %s %s", where, e.ServerID, e.Path, describe(e))))
		}
	case Deleted:
		if p.verbose {
			side := "from the server"
			if e.Local {
				side = "locally"
			}
			fmt.Fprintf(p.stdout, "%s: deleted %s %s\n", where, e.ServerID, side)
		}
	}
}

func (p *textPrinter) accountFailed(account string, err error) {
	fmt.Fprintf(p.stderr, "mailfetch: %s: %v\n", account, err)
}

func (p *textPrinter) finish() {}

// summary prints a line per account, except on a quiet run and a dry run
// (whose listing is its output).
func (p *textPrinter) summary(s Summary) {
	if p.quiet || p.dryRun {
		return
	}
	for _, a := range s.Accounts {
		if a.Error != "" && a.Delivered == 0 {
			continue // the error itself was printed; a "no mail" line would mislead
		}
		fmt.Fprintf(p.stdout, "%s: %s\n", a.Account, a.line())
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
