package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mailfetch/mailfetch/bench/delayproxy"
	"github.com/mailfetch/mailfetch/internal/dovetest"
)

//go:embed csrc/minimda.c
var minimdaSource []byte

//go:embed csrc/rusage.c
var rusageSource []byte

// nobody runs every tool, and owns their run directories.
const nobody = 65534

const password = "secret"

// bench is one benchmark run: its work directory, server, proxies, plan
// and results.
type bench struct {
	opt       *options
	work      string // work directory, 0755, removed by close unless -keep
	mailfetch string // the binary measured
	minimda   string // fetchmail's MDA
	rusage    string // runs a tool as a forked child and reports its rusage
	server    *dovetest.Server
	proxies   map[string]*delayproxy.Proxy // by protocol
	boxes     []*mailbox
	cells     []*cell
	versions  map[string]string
	source    string // what mailfetch was built from
	started   time.Time
	loadStart string
	loadEnd   string
}

func newBench(o *options) (*bench, error) {
	work, err := os.MkdirTemp(o.workParent, "peerbench-")
	if err != nil {
		return nil, err
	}
	// Dovecot's and the tools' unprivileged processes must reach into it.
	if err := os.Chmod(work, 0o755); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	return &bench{opt: o, work: work, proxies: map[string]*delayproxy.Proxy{}, versions: map[string]string{}}, nil
}

// close stops the proxies and the server and removes the work directory
// (unless -keep). It runs on every way out of run, ^C included.
func (b *bench) close() {
	for _, p := range b.proxies {
		p.Close()
	}
	if b.server != nil {
		if err := b.server.Stop(); err != nil {
			logf("stopping dovecot: %v", err)
		}
	}
	if b.opt.keep {
		logf("work directory kept: %s", b.work)
		return
	}
	if err := os.RemoveAll(b.work); err != nil {
		logf("removing %s: %v", b.work, err)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peerbench: "+format+"\n", args...)
}

// prepare builds what is measured, starts the server and proxies, and
// seeds every mailbox of the plan.
func (b *bench) prepare(ctx context.Context) error {
	b.started = time.Now()
	b.loadStart = loadAvg()
	bin := filepath.Join(b.work, "bin")
	err := os.MkdirAll(bin, 0o755)
	if err != nil {
		return err
	}
	if b.opt.mailfetchBin != "" {
		p, err := filepath.Abs(b.opt.mailfetchBin)
		if err != nil {
			return err
		}
		b.mailfetch = p
	} else {
		b.mailfetch = filepath.Join(bin, "mailfetch")
		logf("building mailfetch")
		if b.source, err = buildMailfetch(ctx, b.mailfetch); err != nil {
			return err
		}
	}
	if err := b.checkMailfetchFlags(ctx); err != nil {
		return err
	}
	if b.rusage, err = compileC(ctx, bin, "rusage", rusageSource); err != nil {
		return err
	}
	if slices.ContainsFunc(b.cells, func(c *cell) bool { return c.tool.name == "fetchmail" }) {
		if b.minimda, err = compileC(ctx, bin, "minimda", minimdaSource); err != nil {
			return err
		}
	}
	for _, c := range b.cells {
		if _, ok := b.versions[c.tool.name]; !ok {
			b.versions[c.tool.name] = c.tool.version(b)
		}
	}

	if err := b.checkDisk(); err != nil {
		return err
	}
	var users []dovetest.User
	for _, m := range b.boxes {
		for _, u := range m.serverUsers() {
			users = append(users, dovetest.User{Name: u, Password: password})
		}
	}
	logf("starting dovecot")
	s, err := dovetest.StartServer(dovetest.Options{Users: users, Dir: filepath.Join(b.work, "server")})
	if err != nil {
		return err
	}
	b.server = s
	for _, m := range b.boxes {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if err := b.seed(m); err != nil {
			return err
		}
		logf("seeded %s: %s in %.1f s", m.user, m.describe(), time.Since(start).Seconds())
	}
	for _, proto := range []string{"pop3", "imap"} {
		if !b.needsDelay(proto) {
			continue
		}
		target := s.POP3Addr()
		if proto == "imap" {
			target = s.IMAPAddr()
		}
		p, err := delayproxy.Start(target, b.opt.oneWay)
		if err != nil {
			return err
		}
		b.proxies[proto] = p
	}
	return nil
}

// checkMailfetchFlags asks mailfetch whether each command it will run
// takes -mailfetch-flags (their --help fails on a flag it does not
// know), so that a misspelt or not yet existing flag stops the run
// before the seeding instead of failing every mailfetch run.
func (b *bench) checkMailfetchFlags(ctx context.Context) error {
	if len(b.opt.mailfetchFlags) == 0 {
		return nil
	}
	for _, proto := range []string{"pop3", "imap"} {
		if !slices.ContainsFunc(b.cells, func(c *cell) bool { return c.proto == proto && c.tool.name == "mailfetch" }) {
			continue
		}
		command := []string{"pop3"}
		if proto == "imap" {
			command = []string{"imap", "sync"}
		}
		args := append(append(command, b.opt.mailfetchFlags...), "--help")
		if out, err := exec.CommandContext(ctx, b.mailfetch, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("-mailfetch-flags: mailfetch %s refuses them (%v): %s", strings.Join(command, " "), err, lastLine(out))
		}
	}
	return nil
}

func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// compileC compiles one of the small C helpers into dir and returns the
// binary's path.
func compileC(ctx context.Context, dir, name string, source []byte) (string, error) {
	src := filepath.Join(dir, name+".c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	if msg, err := exec.CommandContext(ctx, "gcc", "-O2", "-o", out, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling %s: %v\n%s", src, err, msg)
	}
	return out, nil
}

// avgMessageBytes is about the mean size of a generated message (PEERS.md:
// 10,000 are 336 MB), rounded up.
const avgMessageBytes = 36 << 10

// fastBoxMessages bounds the mailboxes whose full fetch or initial sync
// can take under a second (mailfetch delivers about 3,000 messages a
// second here), and so may get -fast-runs runs instead of -runs.
const fastBoxMessages = 2000

// diskNeed estimates the bytes a run needs: the server's mail, and every
// run's Maildir, kept until the end unless -remove-runs (one-message
// mailboxes are removed after each run anyway), plus the largest one.
func (b *bench) diskNeed() int64 {
	size := func(m *mailbox) int64 {
		if m.bigBytes > 0 {
			return int64(m.bigBytes)
		}
		added := 0
		if slices.ContainsFunc(b.cells, func(c *cell) bool { return c.box == m && slices.Contains(c.phases, phaseChanged) }) {
			added = changeCount * b.opt.resyncRepeats()
		}
		return int64(m.total()+added) * avgMessageBytes
	}
	var need, largest int64
	for _, m := range b.boxes {
		need += size(m)
	}
	for _, c := range b.cells {
		largest = max(largest, size(c.box))
		if b.opt.removeRuns || c.box.bigBytes > 0 {
			continue
		}
		runs := c.runs
		if !c.tool.slow && (c.box.total() <= fastBoxMessages) {
			runs = max(runs, b.opt.fastRuns)
		}
		if b.opt.warmup && !c.tool.slow && c.delay == 0 {
			runs++
		}
		need += int64(runs) * size(c.box)
	}
	return need + largest
}

// checkDisk refuses to start when the work directory's file system cannot
// hold what diskNeed estimates.
func (b *bench) checkDisk() error {
	need := b.diskNeed()
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.work, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * st.Bsize
	if need > free {
		hint := "; -remove-runs needs less"
		if b.opt.removeRuns {
			hint = ""
		}
		return fmt.Errorf("%s has %d MB free, the runs need about %d MB%s", b.work, free/1e6, need/1e6, hint)
	}
	logf("disk: about %d MB needed, %d MB free", need/1e6, free/1e6)
	return nil
}

// buildMailfetch builds the module in the current directory (the
// repository root, where "go run ./bench/cmd/peerbench" runs).
func buildMailfetch(ctx context.Context, out string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("not inside the mailfetch module: run from the repository root or give -mailfetch")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build mailfetch: %v\n%s", err, msg)
	}
	return sourceRevision(ctx, root), nil
}

// sourceRevision names what was built: the commit, and how many tracked
// files outside bench/ differed from it.
func sourceRevision(ctx context.Context, root string) string {
	head, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "source " + root
	}
	rev := "commit " + strings.TrimSpace(string(head))
	status, _ := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	changed := 0
	for _, line := range strings.Split(string(status), "\n") {
		if len(line) > 3 && !strings.HasPrefix(line[3:], "bench/") {
			changed++
		}
	}
	if changed > 0 {
		rev += fmt.Sprintf(" + uncommitted changes in %d files", changed)
	}
	return rev
}

// endpoint returns where a cell's tool connects as user.
func (b *bench) endpoint(c *cell, user string) endpoint {
	ep := endpoint{host: b.server.Host, user: user, pass: password}
	switch {
	case c.delay > 0:
		ep.port = b.proxies[c.proto].Port()
	case c.proto == "pop3":
		ep.port = b.server.POP3Port
	default:
		ep.port = b.server.IMAPPort
	}
	return ep
}

// job returns what a cell's tool does in run directory d: one account
// named bench with d's Maildir and state, or for the accounts scenarios
// a01, a02, ... each with a Maildir and state directory of its own
// under d's (created here: mpop delivers only into an existing Maildir).
func (b *bench) job(c *cell, d *runDir) (job, error) {
	j := job{deleteMode: c.box.deleteMode}
	users := c.box.serverUsers()
	if c.box.accounts == 0 {
		j.accounts = []account{{name: "bench", ep: b.endpoint(c, users[0]), maildir: d.maildir, state: d.state}}
		return j, nil
	}
	for k, u := range users {
		name := fmt.Sprintf("a%02d", k+1)
		a := account{name: name, ep: b.endpoint(c, u), maildir: filepath.Join(d.maildir, name), state: filepath.Join(d.state, name)}
		for _, dir := range []string{a.state, filepath.Join(a.maildir, "cur"), filepath.Join(a.maildir, "new"), filepath.Join(a.maildir, "tmp")} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return job{}, err
			}
		}
		j.accounts = append(j.accounts, a)
	}
	return j, nil
}

// execute runs every cell, mailbox by mailbox: a warm-up run of each fast
// tool, then the timed runs in turns, then (for sub-second cases) more
// turns of the fast tools until -fast-runs. A failed run is recorded in
// its cell and the rest go on; a server that cannot be restored to its
// state (after a changed phase, or a delete-mode run) ends everything.
func (b *bench) execute(ctx context.Context) error {
	var failed []string
	// turns runs round r of each cell (run -1: the warm-up).
	turns := func(cells []*cell, r int, repeats func(*cell) int) error {
		for _, c := range cells {
			if err := b.runCell(ctx, c, r, repeats(c)); err != nil {
				if ctx.Err() != nil || errors.Is(err, errServerState) {
					return err
				}
				what := "warm-up"
				if r >= 0 {
					what = fmt.Sprintf("run %d", r+1)
					c.failures = append(c.failures, fmt.Sprintf("%s: %v", what, err))
				}
				failed = append(failed, fmt.Sprintf("%s %s: %v", c.label(), what, err))
			}
		}
		return nil
	}
	planned := func(c *cell) int { return c.repeats }
	once := func(*cell) int { return 1 }
	for _, m := range b.boxes {
		var cells []*cell
		maxRuns := 0
		for _, c := range b.cells {
			if c.box == m {
				cells = append(cells, c)
				maxRuns = max(maxRuns, c.runs)
			}
		}
		logf("mailbox %s (%s): %d cells, load %s", m.user, m.describe(), len(cells), loadAvg())
		if b.opt.warmup {
			var warm []*cell
			warmed := map[string]bool{}
			for _, c := range cells {
				key := c.proto + "/" + c.tool.name
				if c.tool.slow || c.delay > 0 || warmed[key] {
					continue
				}
				warmed[key] = true
				warm = append(warm, c)
			}
			if err := turns(warm, -1, once); err != nil {
				return err
			}
		}
		for r := range maxRuns {
			var due []*cell
			for _, c := range cells {
				if r < c.runs {
					due = append(due, c)
				}
			}
			if err := turns(due, r, planned); err != nil {
				return err
			}
		}
		// Sub-second cases: more runs of both sides of the ratio. Their
		// re-sync phases have enough samples already: one each.
		more := b.fastGroups(m)
		if len(more) > 0 {
			logf("mailbox %s: sub-second cases, runs up to %d for %d cells", m.user, b.opt.fastRuns, len(more))
		}
		for r := maxRuns; r < b.opt.fastRuns && len(more) > 0; r++ {
			var due []*cell
			for _, c := range more {
				if r >= c.runs {
					c.runs = r + 1
					due = append(due, c)
				}
			}
			if err := turns(due, r, once); err != nil {
				return err
			}
		}
	}
	b.loadEnd = loadAvg()
	if len(failed) > 0 {
		return fmt.Errorf("%d runs failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// errServerState marks a failure to put the server back as it was: the
// runs after it would measure a different mailbox.
var errServerState = errors.New("the server's mailbox could not be restored")

// runCell makes a fresh run directory, runs the cell's phases in it and
// checks each; run -1 is the untimed warm-up. Each re-sync phase runs
// repeats times, each a sample.
func (b *bench) runCell(ctx context.Context, c *cell, r, repeats int) (err error) {
	name := fmt.Sprintf("%s-%s-%s-d%d-r%d", c.tool.name, c.proto, c.box.user, c.delay.Milliseconds(), r+1)
	d, err := newRunDir(filepath.Join(b.work, "runs", name))
	if err != nil {
		return err
	}
	// A one-message Maildir goes at once: freeing one inode costs the
	// next runs nothing, and ten 200 MiB copies would fill the disk.
	if b.opt.removeRuns || c.box.bigBytes > 0 {
		defer func() {
			// The last run of each cell stays with -keep, for a look.
			if b.opt.keep && r == c.runs-1 {
				return
			}
			os.RemoveAll(d.root)
		}()
	}
	j, err := b.job(c, d)
	if err != nil {
		return err
	}
	var argv []string
	if c.proto == "pop3" {
		argv = c.tool.pop3(b, d, j)
	} else {
		argv = c.tool.imap(b, d, j)
	}
	if err := chownTree(d.root, nobody); err != nil {
		return err
	}
	if c.box.deleteMode {
		// Whatever happened, the next run finds the mailbox full again.
		defer func() {
			c.box.emptied = time.Now()
			if rerr := b.reseed(c.box); rerr != nil {
				err = errors.Join(err, fmt.Errorf("%w: %v", errServerState, rerr))
			}
		}()
	}
	// What the server holds for each account; the changed phases add to
	// the single account's.
	want := map[string]expectation{}
	for _, u := range c.box.serverUsers() {
		w := expectation{messages: c.box.perUser(), folders: len(c.box.folders), flagged: -1}
		if c.proto == "imap" && c.box.bigBytes == 0 {
			w.flagged = c.box.flagged[u]
		}
		want[u] = w
	}
	steps := 0
	defer func() {
		if steps == 0 {
			return
		}
		if uerr := b.undoChange(c.box); uerr != nil {
			err = errors.Join(err, fmt.Errorf("%w: %v", errServerState, uerr))
		}
	}()
	for _, ph := range c.phases {
		times := 1
		if isResync(ph) {
			times = repeats
		}
		for rep := range times {
			if ph == phaseChanged {
				user := c.box.user
				steps++
				nowFlagged, messages, nflagged, err := b.changeServer(c.box, steps-1)
				if err != nil {
					return fmt.Errorf("%w: %v", errServerState, err)
				}
				// The new messages may come with \Flagged of their own.
				prev := want[user]
				if messages != prev.messages+changeCount || nflagged < prev.flagged+nowFlagged {
					return fmt.Errorf("%w: after change %d the server holds %d messages (%d flagged), want %d (at least %d)",
						errServerState, steps, messages, nflagged, prev.messages+changeCount, prev.flagged+nowFlagged)
				}
				want[user] = expectation{messages: messages, folders: prev.folders, flagged: nflagged}
			}
			if isResync(ph) {
				// As between two cron runs: mbsync, for one, waits out the
				// second in which it last saw a Maildir change before it
				// trusts the directory times.
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(b.opt.pause):
				}
			}
			if c.box.deleteMode && !c.box.emptied.IsZero() {
				// -delete-settle: the inodes freed by the last run's
				// deletions are no longer skipped (see bench/README.md).
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Until(c.box.emptied.Add(b.opt.deleteSettle))):
				}
			}
			// Flush what earlier runs left dirty, so that no run pays for
			// another's writeback.
			syscall.Sync()
			if r >= 0 {
				c.attempts[ph]++
			}
			s, err := b.measure(ctx, c.tool, d, argv)
			if err != nil {
				return fmt.Errorf("%s: %w", ph, err)
			}
			if err := b.verify(c, j, want); err != nil {
				return fmt.Errorf("%s: %w (log: %s)", ph, err, d.logTail())
			}
			tag := "warm-up"
			if r >= 0 {
				tag = fmt.Sprintf("run %d/%d", r+1, c.runs)
				if times > 1 {
					tag += fmt.Sprintf(" #%d", rep+1)
				}
				c.samples[ph] = append(c.samples[ph], s)
			}
			logf("%-55s %-20s %-14s %8.2f s wall %7.2f s CPU %7.1f MB RSS  load %.2f",
				c.label(), ph, tag, s.Wall, s.CPU, s.RSSMB, s.Load1)
		}
	}
	return nil
}

// verify checks that each account's Maildir holds exactly what the
// server holds for its user (want), and in delete mode that the server
// holds nothing any more.
func (b *bench) verify(c *cell, j job, want map[string]expectation) error {
	for k, u := range c.box.serverUsers() {
		got, err := countMaildir(j.accounts[k].maildir)
		if err != nil {
			return fmt.Errorf("counting the Maildir: %w", err)
		}
		if err := got.check(want[u]); err != nil {
			if j.multi() {
				return fmt.Errorf("account %s (%s): %w", j.accounts[k].name, u, err)
			}
			return err
		}
	}
	if c.box.deleteMode {
		left, err := b.serverLeft(c.box)
		if err != nil {
			return err
		}
		if left > 0 {
			return fmt.Errorf("delete mode left %d messages on the server", left)
		}
	}
	return nil
}

// serve prints where the prepared server, its mailboxes and the proxies
// are, then waits for ^C (ctx), for measurements by hand.
func (b *bench) serve(ctx context.Context, w io.Writer) error {
	s := b.server
	fmt.Fprintf(w, "dovecot: POP3 %s, IMAP %s (plain; POP3S %s, IMAPS %s, CA file %s)\n",
		s.POP3Addr(), s.IMAPAddr(), s.POP3SAddr(), s.IMAPSAddr(), s.CAFile)
	for proto, p := range b.proxies {
		fmt.Fprintf(w, "proxy: %s %s, %v each way\n", proto, p.Addr(), p.Delay())
	}
	for _, m := range b.boxes {
		users := m.serverUsers()
		who := "user " + users[0]
		if len(users) > 1 {
			who = fmt.Sprintf("users %s to %s", users[0], users[len(users)-1])
		}
		fmt.Fprintf(w, "%s, password %s: %s (%s)\n", who, password, m.describe(), strings.Join(m.folders, ", "))
	}
	fmt.Fprintf(w, "work directory %s; mailfetch binary %s; ^C stops everything\n", b.work, b.mailfetch)
	<-ctx.Done()
	return nil
}
