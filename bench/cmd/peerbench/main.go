// Command peerbench measures mailfetch against the programs its users would
// otherwise run (mpop, fetchmail, getmail6, mbsync, offlineimap3), in one
// run, against one private Dovecot on loopback (internal/dovetest).
//
//	go run ./bench/cmd/peerbench                        # everything, 3 runs each
//	go run ./bench/cmd/peerbench -only pop3 -n 1000 -runs 1
//	go run ./bench/cmd/peerbench -only imap,imap-rtt -tools mailfetch,mbsync
//	go run ./bench/cmd/peerbench -only pop3-rtt -tools mailfetch -serve   # a server to profile against
//
// Scenarios (-only, comma-separated; default all):
//
//	pop3      POP3 --keep download of -n messages (mailfetch, mpop, fetchmail
//	          with a minimal C MDA), and of -n-small (getmail6, with mailfetch
//	          and mpop for the ratio)
//	pop3-rtt  POP3 of -n-small messages without and with -rtt through a
//	          delaying proxy (mailfetch, mpop, getmail6, fetchmail)
//	pop3-big  POP3 of one -big-mb message (mailfetch, mpop): peak RSS
//	imap      IMAP initial sync of -n messages in 10 folders, a no-change
//	          sync, and a sync after 100 new messages and 100 flag changes
//	          (mailfetch, mbsync, offlineimap3)
//	imap-rtt  IMAP initial and no-change sync of -n-small messages in 10
//	          folders, without and with -rtt (mailfetch, mbsync)
//	imap-big  IMAP sync of one -big-mb message (mailfetch, mbsync): peak RSS
//
// Every tool runs as nobody (setpriv; fetchmail and getmail6 refuse root)
// with a fresh Maildir, state and HOME per run, on the plain ports with
// tls off (mailfetch: tls = "none", allow-plaintext), so that no tool pays
// for TLS. POP3 runs keep the mail on the server and IMAP runs never change
// it, so every run sees the same mailbox; the runs of the tools of one
// mailbox take turns (round robin) so that a noisy machine hurts them
// alike. Each run is checked: the number of messages delivered (and of
// folders, and of \Flagged messages for IMAP) must match the server.
//
// The report is a Markdown table of medians on stdout (wall seconds, CPU
// seconds of the tool and its children from wait4's rusage, peak RSS), the
// ratio mailfetch/peer, the load average at the start of each run, and the
// speed targets met or not. -json writes every sample.
//
// Each run's Maildir is kept until the end (unless -remove-runs): on ext4
// without a journal, deleting thousands of files makes the inode
// allocator skip the freed inodes for a minute or more, which would slow
// down the next tool's file creation. About 11 GB for the default set.
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
	n, nSmall    int
	runs         int
	slowRuns     int
	bigMB        int
	oneWay       time.Duration
	only         map[string]bool
	tools        map[string]bool
	workParent   string
	keep         bool
	mailfetchBin string
	jsonOut      string
	timeout      time.Duration
	warmup       bool
	pause        time.Duration
	serve        bool
	removeRuns   bool
	jobs         int
}

var scenarioNames = []string{"pop3", "pop3-rtt", "pop3-big", "imap", "imap-rtt", "imap-big"}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	o := &options{}
	fs.IntVar(&o.n, "n", 10000, "messages of the main POP3 and IMAP scenarios (IMAP: 10 folders of n/10)")
	fs.IntVar(&o.nSmall, "n-small", 1000, "messages of the RTT scenarios and of getmail6's POP3 run")
	fs.IntVar(&o.runs, "runs", 3, "timed runs of each tool in each scenario; the report gives medians")
	fs.IntVar(&o.slowRuns, "slow-runs", 0, "timed runs of the slow peers (fetchmail, getmail6, offlineimap3); 0 means -runs")
	fs.IntVar(&o.bigMB, "big-mb", 200, "size in MiB of the one message of pop3-big and imap-big")
	fs.DurationVar(&o.oneWay, "delay", 25*time.Millisecond, "one-way delay of the proxy in the -rtt scenarios (RTT is twice this)")
	only := fs.String("only", strings.Join(scenarioNames, ","), "scenarios to run, comma-separated: "+strings.Join(scenarioNames, ", "))
	tools := fs.String("tools", strings.Join(toolNames(), ","), "tools to measure, comma-separated")
	fs.StringVar(&o.workParent, "workdir", "/tmp", "parent of the work directory (server, runs); every directory above must be searchable by others")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (server, every run's Maildir, or the last of each cell with -remove-runs) for inspection")
	fs.StringVar(&o.mailfetchBin, "mailfetch", "", "mailfetch binary to measure (default: go build the module in the current directory)")
	fs.StringVar(&o.jsonOut, "json", "", "also write every sample as JSON to this file")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "limit of one tool run; a run over it is killed and fails")
	fs.BoolVar(&o.warmup, "warmup", true, "one untimed run of each fast tool per mailbox before the timed runs (server caches, page cache)")
	fs.DurationVar(&o.pause, "pause", 2*time.Second, "untimed pause before an IMAP re-sync (no-change, changed), as between two scheduled runs")
	fs.BoolVar(&o.removeRuns, "remove-runs", false, "remove each run's Maildir as soon as it is checked, instead of at the end (less disk; but on ext4 without a journal, files created in the next minutes pay for the freed inodes: see bench/README.md)")
	fs.BoolVar(&o.serve, "serve", false, "prepare the selected scenarios' server, mail and proxies, print where they are, and wait for ^C instead of measuring (for profiling by hand)")
	fs.IntVar(&o.jobs, "jobs", 0, "mailfetch's IMAP jobs (folders in parallel); 0 leaves mailfetch's default")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.only, err = parseList(*only, scenarioNames, "scenario"); err != nil {
		return nil, err
	}
	if o.tools, err = parseList(*tools, toolNames(), "tool"); err != nil {
		return nil, err
	}
	switch {
	case o.n < 10 || o.nSmall < 10:
		return nil, fmt.Errorf("-n and -n-small must be at least 10 (IMAP spreads them over 10 folders)")
	case o.runs < 1 || o.runs > 100:
		return nil, fmt.Errorf("-runs must be 1 to 100")
	case o.slowRuns < 0 || o.slowRuns > 100:
		return nil, fmt.Errorf("-slow-runs must be 0 to 100")
	case o.bigMB < 1 || o.bigMB > 4096:
		return nil, fmt.Errorf("-big-mb must be 1 to 4096")
	case o.oneWay <= 0:
		return nil, fmt.Errorf("-delay must be positive")
	case o.pause < 0 || o.pause > time.Minute:
		return nil, fmt.Errorf("-pause must be 0 to 1m")
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
