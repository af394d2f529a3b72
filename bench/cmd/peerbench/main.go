// Command peerbench measures mailfetch against the programs its users would
// otherwise run (mpop, fetchmail, getmail6, mbsync, offlineimap3), in one
// run, against one private Dovecot on loopback (internal/dovetest).
//
//	go run ./bench/cmd/peerbench                        # everything, 3 runs each
//	go run ./bench/cmd/peerbench -only pop3 -n 1000 -runs 1
//	go run ./bench/cmd/peerbench -only imap,imap-rtt -tools mailfetch,mbsync
//	go run ./bench/cmd/peerbench -only pop3-rtt -tools mailfetch -serve   # a server to profile against
//	go run ./bench/cmd/peerbench -targets -json out.json   # issue 10's table, every row from one run
//
// Scenarios (-only, comma-separated; default all):
//
//	pop3           POP3 --keep download of -n messages (mailfetch, mpop,
//	               fetchmail with a minimal C MDA), and of -n-small
//	               (getmail6, with mailfetch and mpop for the ratio)
//	pop3-nonew     POP3 keep mode: -n messages, then a run with nothing new
//	               (mailfetch, mpop)
//	pop3-delete    POP3 delete mode: -n messages fetched and deleted; the
//	               driver seeds the mailbox again after each run (mailfetch,
//	               mpop)
//	pop3-rtt       POP3 of -n-small messages without and with -delay
//	               through a delaying proxy (mailfetch, mpop, getmail6,
//	               fetchmail)
//	pop3-big       POP3 of one -big-mb message (mailfetch, mpop): peak RSS
//	imap           IMAP initial sync of -n messages in 10 folders, a
//	               no-change sync, and a sync after 100 new messages and 100
//	               flag changes (mailfetch, mbsync, offlineimap3)
//	imap-changed   the same mailbox, initial and changed sync only
//	               (mailfetch, mbsync)
//	imap-rtt       IMAP initial and no-change sync of -n-small messages in
//	               10 folders, without and with -delay (mailfetch, mbsync)
//	imap-onefolder IMAP initial and no-change sync of -n-small messages in
//	               one folder (mailfetch, mbsync)
//	imap-rss       IMAP initial sync of each of -rss-sizes messages in one
//	               folder: peak RSS and its growth per message (mailfetch,
//	               mbsync)
//	imap-folders   IMAP initial and no-change sync of -many-folders
//	               (100 folders × 100 messages) (mailfetch, mbsync)
//	imap-big       IMAP sync of one -big-mb message (mailfetch, mbsync)
//	accounts-imap  -accounts (20 × 500 messages), each account its own
//	               server user, all in one invocation: mailfetch imap sync
//	               with 20 accounts, mbsync -a with 20 channels; initial
//	               and no-change
//	accounts-pop3  the same over POP3 in keep mode: mailfetch pop3 with 20
//	               accounts, mpop -a with 20 accounts; initial and nothing
//	               new
//
// -targets selects every scenario with mailfetch, mbsync and mpop (the
// slow peers left out), which is what the table of issue 10 needs; the
// report then opens with that table.
//
// Sub-second cases get at least -fast-runs samples: re-sync phases
// (no-change, changed) are repeated within each run, and a fresh phase
// (full, initial) whose median stays under a second gets more runs of
// every fast tool on that mailbox and link.
//
// Every tool runs as nobody (setpriv; fetchmail and getmail6 refuse root)
// with a fresh Maildir, state and HOME per run, on the plain ports with
// tls off (mailfetch: tls = "none", allow-plaintext), so that no tool pays
// for TLS. POP3 runs in keep mode and IMAP runs never change the mailbox;
// the changed phases' additions are undone after each run and a
// delete-mode mailbox is seeded again, so every run sees the same
// mailbox. The runs of the tools of one mailbox take turns (round robin)
// so that a noisy machine hurts them alike. Each sample is checked: the
// number of messages delivered into each account's Maildir (and of
// folders, and of \Flagged messages for IMAP) must match its server user,
// and in delete mode the server must hold nothing more.
//
// -mailfetch-flags adds flags to every mailfetch run (after the command:
// mailfetch --config F --quiet imap sync FLAGS); mailfetch's --help with
// them must succeed before anything is seeded.
//
// The report is a Markdown table of medians on stdout (wall seconds, CPU
// seconds of the tool and its children from wait4's rusage, peak RSS), the
// ratio mailfetch/peer, the load average at the start of each run, and the
// speed targets met or not. -json writes every sample.
//
// Each run's Maildir is kept until the end (unless -remove-runs): on ext4
// without a journal, deleting thousands of files makes the inode
// allocator skip the freed inodes for a minute or more, which would slow
// down the next tool's file creation. About 42 GB for the default set, 39
// GB for -targets (5.5 GB with -remove-runs); it says how much before it
// seeds, and refuses to start without it. One-message Maildirs (-big-mb)
// are removed after each run.
//
// Everything it starts (Dovecot, proxies, tools) is stopped when it ends,
// also on SIGINT/SIGTERM; its work directory is removed unless -keep.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	n, nSmall      int
	runs           int
	slowRuns       int
	fastRuns       int
	bigMB          int
	oneWay         time.Duration
	only           map[string]bool
	tools          map[string]bool
	rssSizes       []int
	manyFolders    grid
	accounts       grid
	workParent     string
	keep           bool
	mailfetchBin   string
	mailfetchFlags []string
	jsonOut        string
	timeout        time.Duration
	warmup         bool
	pause          time.Duration
	deleteSettle   time.Duration
	serve          bool
	removeRuns     bool
	jobs           int
	targets        bool
}

// grid is a count of things of each so many messages: 100 folders × 100
// messages, 20 accounts × 500 messages; written 100x100.
type grid struct{ count, each int }

func (g grid) String() string { return fmt.Sprintf("%dx%d", g.count, g.each) }

func parseGrid(s string, maxCount int) (grid, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "x")
	count, err1 := strconv.Atoi(a)
	each, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || count < 1 || count > maxCount || each < 1 || each > 1_000_000 {
		return grid{}, fmt.Errorf("%q: want COUNTxMESSAGES, COUNT 1 to %d, MESSAGES 1 to 1000000", s, maxCount)
	}
	return grid{count, each}, nil
}

var scenarioNames = []string{
	"pop3", "pop3-nonew", "pop3-delete", "pop3-rtt", "pop3-big",
	"imap", "imap-changed", "imap-rtt", "imap-onefolder", "imap-rss", "imap-folders", "imap-big",
	"accounts-imap", "accounts-pop3",
}

// targetTools are the tools of -targets: the peers of issue 10's table.
var targetTools = []string{"mailfetch", "mbsync", "mpop"}

// resyncRepeats is how often each run repeats a re-sync phase, so that
// -runs runs give at least -fast-runs samples of it.
func (o *options) resyncRepeats() int {
	return max(1, (o.fastRuns+o.runs-1)/o.runs)
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	o := &options{}
	fs.IntVar(&o.n, "n", 10000, "messages of the main POP3 and IMAP scenarios (IMAP: 10 folders of n/10)")
	fs.IntVar(&o.nSmall, "n-small", 1000, "messages of the RTT and one-folder scenarios and of getmail6's POP3 run")
	fs.IntVar(&o.runs, "runs", 3, "timed runs of each tool in each scenario; the report gives medians")
	fs.IntVar(&o.slowRuns, "slow-runs", 0, "timed runs of the slow peers (fetchmail, getmail6, offlineimap3); 0 means -runs")
	fs.IntVar(&o.fastRuns, "fast-runs", 10, "samples of each sub-second case: re-sync phases are repeated within a run, fresh phases under a second get more runs")
	fs.IntVar(&o.bigMB, "big-mb", 200, "size in MiB of the one message of pop3-big and imap-big")
	fs.DurationVar(&o.oneWay, "delay", 25*time.Millisecond, "one-way delay of the proxy in the -rtt scenarios (RTT is twice this)")
	only := fs.String("only", strings.Join(scenarioNames, ","), "scenarios to run, comma-separated: "+strings.Join(scenarioNames, ", "))
	tools := fs.String("tools", strings.Join(toolNames(), ","), "tools to measure, comma-separated")
	rss := fs.String("rss-sizes", "40000", "imap-rss: message counts of the one-folder mailboxes, comma-separated (e.g. 1000,10000,40000,100000)")
	many := fs.String("many-folders", "100x100", "imap-folders: FOLDERSxMESSAGES per folder")
	accounts := fs.String("accounts", "20x500", "accounts-imap, accounts-pop3: ACCOUNTSxMESSAGES per account, each account a server user of its own")
	mfFlags := fs.String("mailfetch-flags", "", "extra flags for every mailfetch run, split at white space, put after the command (e.g. \"--account-jobs 8\")")
	fs.BoolVar(&o.targets, "targets", false, "measure what issue 10's table needs: every scenario with "+strings.Join(targetTools, ", ")+" (unless -only or -tools say otherwise)")
	fs.StringVar(&o.workParent, "workdir", "/tmp", "parent of the work directory (server, runs); every directory above must be searchable by others")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (server, every run's Maildir, or the last of each cell with -remove-runs) for inspection")
	fs.StringVar(&o.mailfetchBin, "mailfetch", "", "mailfetch binary to measure (default: go build the module in the current directory)")
	fs.StringVar(&o.jsonOut, "json", "", "also write every sample as JSON to this file")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit of one tool run; a run over it is killed and fails")
	fs.BoolVar(&o.warmup, "warmup", true, "one untimed run of each fast tool per mailbox before the timed runs (server caches, page cache)")
	fs.DurationVar(&o.pause, "pause", 2*time.Second, "untimed pause before each re-sync (no-change, changed), as between two scheduled runs")
	fs.DurationVar(&o.deleteSettle, "delete-settle", 0, "pop3-delete: untimed wait from the end of one delete-mode run to the start of the next, so that ext4 without a journal no longer skips the inodes Dovecot freed (65s; see bench/README.md)")
	fs.BoolVar(&o.removeRuns, "remove-runs", false, "remove each run's Maildir as soon as it is checked, instead of at the end (less disk; but on ext4 without a journal, files created in the next minutes pay for the freed inodes: see bench/README.md)")
	fs.BoolVar(&o.serve, "serve", false, "prepare the selected scenarios' server, mail and proxies, print where they are, and wait for ^C instead of measuring (for profiling by hand)")
	fs.IntVar(&o.jobs, "jobs", 0, "mailfetch's IMAP jobs (folders in parallel); 0 leaves mailfetch's default")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.targets {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["tools"] {
			*tools = strings.Join(targetTools, ",")
		}
	}
	var err error
	if o.only, err = parseList(*only, scenarioNames, "scenario"); err != nil {
		return nil, err
	}
	if o.tools, err = parseList(*tools, toolNames(), "tool"); err != nil {
		return nil, err
	}
	for _, f := range strings.Split(*rss, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 1_000_000 {
			return nil, fmt.Errorf("-rss-sizes: %q is not a message count from 1 to 1000000", f)
		}
		if !slices.Contains(o.rssSizes, v) {
			o.rssSizes = append(o.rssSizes, v)
		}
	}
	slices.Sort(o.rssSizes)
	if o.manyFolders, err = parseGrid(*many, 1000); err != nil {
		return nil, fmt.Errorf("-many-folders %w", err)
	}
	if o.accounts, err = parseGrid(*accounts, 99); err != nil {
		return nil, fmt.Errorf("-accounts %w", err)
	}
	o.mailfetchFlags = strings.Fields(*mfFlags)
	switch {
	case o.n < 10 || o.nSmall < 10:
		return nil, fmt.Errorf("-n and -n-small must be at least 10 (IMAP spreads them over 10 folders)")
	case o.runs < 1 || o.runs > 100:
		return nil, fmt.Errorf("-runs must be 1 to 100")
	case o.slowRuns < 0 || o.slowRuns > 100:
		return nil, fmt.Errorf("-slow-runs must be 0 to 100")
	case o.fastRuns < 1 || o.fastRuns > 100:
		return nil, fmt.Errorf("-fast-runs must be 1 to 100")
	case o.bigMB < 1 || o.bigMB > 4096:
		return nil, fmt.Errorf("-big-mb must be 1 to 4096")
	case o.oneWay <= 0:
		return nil, fmt.Errorf("-delay must be positive")
	case o.pause < 0 || o.pause > time.Minute:
		return nil, fmt.Errorf("-pause must be 0 to 1m")
	case o.deleteSettle < 0 || o.deleteSettle > 10*time.Minute:
		return nil, fmt.Errorf("-delete-settle must be 0 to 10m")
	case o.jobs < 0 || o.jobs > 8:
		return nil, fmt.Errorf("-jobs must be 0 to 8")
	}
	if o.slowRuns == 0 {
		o.slowRuns = o.runs
	}
	return o, nil
}

func parseList(s string, known []string, what string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ok := false
		for _, k := range known {
			ok = ok || k == f
		}
		if !ok {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, f, strings.Join(known, ", "))
		}
		set[f] = true
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	return set, nil
}

func run(ctx context.Context, args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		// The peers run as nobody in directories we chown to it.
		return fmt.Errorf("run as root: the tools run as nobody (setpriv) in directories chowned to it")
	}
	b, err := newBench(o)
	if err != nil {
		return err
	}
	defer b.close()
	// The plan must be made before the server starts: it names the users.
	b.plan()
	if len(b.cells) == 0 {
		return fmt.Errorf("nothing to run: no selected tool takes part in the selected scenarios")
	}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if o.serve {
		return b.serve(ctx, os.Stdout)
	}
	runErr := b.execute(ctx)
	b.report(os.Stdout)
	if o.jsonOut != "" {
		if err := b.writeJSON(o.jsonOut); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}
