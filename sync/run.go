package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// Options configures a sync run of one account.
type Options struct {
	Account  string
	Host     string
	Port     int // 0: 993 with implicit TLS, 143 otherwise
	Security transport.Security
	Timeouts transport.Timeouts
	User     string
	Secret   string // password or OAuth2 token, already resolved
	Auth     string // auto|login|plain|xoauth2|oauthbearer

	// Store is the local Maildir tree; nil when MDA is set. In a dry run
	// it is a read-only view (maildir.OpenView), which need not exist; it
	// may also be nil, and then the local side is taken to be as the state
	// says (which the real run does not assume: it looks).
	Store *maildir.Store
	// MDA turns the sync into a one-way fetch of new mail into a command:
	// UIDs are tracked in the state, flags and deletions are not.
	MDA *maildir.MDA
	// StateDir is the account's state directory: it exists, and the caller
	// holds the account's lock. The IMAP state lives in StateDir/imap/.
	StateDir string
	// Patterns select folders as mbsync's Patterns do: "*", "%", "!Trash";
	// later patterns win. Default {"*"}.
	Patterns []string
	// Jobs is how many folders sync in parallel, each over a connection of
	// its own: default 4, at most 8 (servers limit connections per user;
	// Dovecot to 10).
	Jobs int
	// ExpungeRemote removes from the server (UID EXPUNGE, UIDPLUS only)
	// what was deleted locally. Without it a local deletion stays local.
	ExpungeRemote bool
	// AllowMassDelete lets a run delete a large share of a folder (see
	// massDeletion), on the server or locally. Without it such a run
	// deletes nothing of that folder and fails it with failure.Guard.
	AllowMassDelete bool
	// DryRun connects and reports exactly what would be done, on both
	// sides, and writes nothing: no state, no Maildir, no STORE.
	DryRun bool

	Sink  report.Sink // nil: events are dropped
	Trace io.Writer   // protocol transcript (credentials redacted); nil: off

	// Test seams. dial, when set, opens the connections instead of
	// imapconn (an in-memory Conn); beforePushProof runs just before
	// modSeqAfterPush asks the server (another client's change there must
	// spoil the proof).
	dial            func(context.Context) (imapconn.Conn, error)
	beforePushProof func(folder string)
}

// Result counts what a run did.
type Result struct {
	Folders       int // folders synced (or checked) without error
	Delivered     int
	FlagsPushed   int // messages whose flags were changed on the server
	FlagsPulled   int // messages whose flags were changed locally
	RemovedLocal  int // local files removed because the server expunged them
	RemovedRemote int // messages expunged on the server (ExpungeRemote)
	Failed        int // folders that failed
	// Unchanged: folders passed over on their skip mark, without a look
	// at their state or Maildir (they count in Folders too).
	Unchanged int
	Bytes     int64
}

// Job limits.
const (
	defaultJobs = 4
	maxJobs     = 8
)

// engine is one run: options, results, events.
type engine struct {
	opt      *Options
	stateDir string        // StateDir/imap
	caps     imapconn.Caps // of the first connection: the server's
	// dial opens a connection; all of them share what the first learns
	// of the server's quirks (imapconn.Dialer).
	dial func(context.Context) (imapconn.Conn, error)

	mu  gosync.Mutex
	res Result
}

// newEngine returns the engine of a run with opt.
func newEngine(opt *Options) *engine {
	e := &engine{opt: opt, stateDir: filepath.Join(opt.StateDir, "imap"), dial: opt.dial}
	if e.dial == nil {
		d := imapconn.NewDialer(imapconn.Options{
			Host: opt.Host, Port: opt.Port, Security: opt.Security, Timeouts: opt.Timeouts,
			User: opt.User, Secret: opt.Secret, Auth: opt.Auth, Trace: opt.Trace,
			Notice: func(folder, text string) {
				e.emit(report.Event{Kind: report.Notice, Folder: folder, Text: text})
			},
		})
		e.dial = func(ctx context.Context) (imapconn.Conn, error) {
			s, err := d.Dial(ctx)
			if err != nil {
				return nil, err // not a nil *Session in an interface
			}
			return s, nil
		}
	}
	return e
}

func (e *engine) emit(ev report.Event) {
	ev.Time = time.Now()
	ev.Account = e.opt.Account
	ev.Protocol = "imap"
	e.opt.Sink.Emit(ev)
}

func (e *engine) add(f func(r *Result)) {
	e.mu.Lock()
	f(&e.res)
	e.mu.Unlock()
}

func (e *engine) result() Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.res
}

// check validates the options; errors are failure.Usage.
func (o *Options) check(needTarget bool) error {
	if o.Host == "" {
		return failure.New(failure.Usage, "imap: no host given")
	}
	if needTarget {
		if o.Store != nil && o.MDA != nil {
			return failure.New(failure.Usage, "imap: both a Maildir and an MDA given")
		}
		if o.Store == nil && o.MDA == nil && !o.DryRun {
			return failure.New(failure.Usage, "imap: no Maildir and no MDA given")
		}
		if o.StateDir == "" {
			return failure.New(failure.Usage, "imap: no state directory given")
		}
	}
	return nil
}

func (o *Options) jobs() int {
	switch {
	case o.Jobs <= 0:
		return defaultJobs
	case o.Jobs > maxJobs:
		return maxJobs
	}
	return o.Jobs
}

// Run syncs the account's selected folders: new messages fetched
// (BODY.PEEK, so the server's \Seen is untouched), flags merged both ways,
// server expunges applied locally, local deletions pushed when
// ExpungeRemote. Folders sync in parallel; one folder's failure is
// reported (report.Error) while the others complete, and Run then returns
// a failure.Partial error. A failure to connect or log in fails the run
// with its kind (Temporary, Auth, ...).
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Sink == nil {
		opt.Sink = report.Discard
	}
	e := newEngine(&opt)
	if err := opt.check(true); err != nil {
		return Result{}, err
	}
	e.emit(report.Event{Kind: report.AccountStart})
	err := e.run(ctx)
	e.emit(report.Event{Kind: report.AccountDone, Err: err})
	return e.result(), err
}

func (e *engine) run(ctx context.Context) error {
	if !e.opt.DryRun {
		if err := maildir.MkdirAllDurable(e.stateDir, 0o700); err != nil {
			return failure.Wrap(failure.LocalIO, fmt.Errorf("imap: state directory: %w", err))
		}
		// Leftovers of a run killed while it replaced a journal or a mark.
		_, _ = maildir.RemoveStaleTemps(e.stateDir, maildir.StaleTempAge)
	}
	first, err := e.dial(ctx)
	if err != nil {
		return err
	}
	e.caps = first.Caps()
	listing, err := first.ListFolders(ctx, imapconn.ListOptions{Status: true})
	if err != nil {
		first.Close()
		return err
	}
	jobs, failed := e.selectFolders(listing.Folders)
	e.noticeVanished(listing)

	// Workers take folders from a queue, each over its own connection; the
	// first uses the connection that listed. A worker that cannot connect
	// leaves the folders to the others (the server may limit connections
	// per user); only the first worker fails folders for want of one.
	q := newJobQueue(jobs)
	n := min(e.opt.jobs(), max(len(jobs), 1))
	var wg gosync.WaitGroup
	var failedMu gosync.Mutex
	for w := range n {
		var c imapconn.Conn
		if w == 0 {
			c = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range e.worker(ctx, c, q, w == 0) {
				failedMu.Lock()
				failed = append(failed, err)
				failedMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("imap: %w", context.Cause(ctx))
	}
	if len(failed) == 0 {
		return nil
	}
	total := len(jobs) + countPlanned(failed)
	kind := failure.Combined(failed, total)
	msg := fmt.Sprintf("imap: %d of %d folders failed", len(failed), total)
	if len(failed) == 1 {
		msg += ": " + failed[0].Error()
	}
	return failure.Wrap(kind, errors.New(msg))
}

// jobQueue hands folders to workers. A worker that cannot open a
// connection gives its folder back; the first worker, which has one from
// the start, waits for such folders until no other worker holds any.
type jobQueue struct {
	mu       gosync.Mutex
	cond     *gosync.Cond
	jobs     []*folderJob
	inflight int
}

func newJobQueue(jobs []*folderJob) *jobQueue {
	q := &jobQueue{jobs: jobs}
	q.cond = gosync.NewCond(&q.mu)
	return q
}

// take returns the next folder, or nil when there is none left; with wait
// it waits while folders are out with other workers.
func (q *jobQueue) take(wait bool) *folderJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.jobs) == 0 {
		if !wait || q.inflight == 0 {
			return nil
		}
		q.cond.Wait()
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	q.inflight++
	return j
}

func (q *jobQueue) done(giveBack *folderJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if giveBack != nil {
		q.jobs = append(q.jobs, giveBack)
	}
	q.inflight--
	q.cond.Broadcast()
}

// errNoConnection marks a folder a secondary worker could not sync for
// want of a connection: it goes back to the queue.
var errNoConnection = errors.New("no connection")

// worker syncs folders from q until it is empty. It dials only when a
// folder needs the server beyond the LIST-STATUS (most do not, on a run
// with nothing new), and again after its connection broke. It returns the
// errors of the folders that failed.
func (e *engine) worker(ctx context.Context, c imapconn.Conn, q *jobQueue, primary bool) []error {
	var errs []error
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	connect := func() (imapconn.Conn, error) {
		if c != nil && !c.Alive() {
			c.Close()
			c = nil
		}
		if c == nil {
			var err error
			if c, err = e.dial(ctx); err != nil {
				if !primary {
					return nil, fmt.Errorf("%w: %w", errNoConnection, err)
				}
				return nil, err
			}
		}
		return c, nil
	}
	for {
		job := q.take(primary)
		if job == nil {
			return errs
		}
		var err error
		if ctx.Err() != nil {
			err = fmt.Errorf("imap: %w", context.Cause(ctx))
		} else {
			err = e.syncFolder(ctx, job, connect)
		}
		if errors.Is(err, errNoConnection) {
			// The server may limit connections per user: leave the
			// folder to a worker that has one.
			q.done(job)
			return errs
		}
		q.done(nil)
		if err != nil {
			e.folderFailed(job, err)
			errs = append(errs, err)
			continue
		}
		e.add(func(r *Result) { r.Folders++ })
	}
}

func (e *engine) folderFailed(job *folderJob, err error) {
	e.add(func(r *Result) { r.Failed++ })
	e.emit(report.Event{Kind: report.Error, Folder: job.f.Name, Err: err})
	e.emit(report.Event{Kind: report.FolderDone, Folder: job.f.Name, Err: err})
}

// folderJob is one folder to sync.
type folderJob struct {
	f    *imapconn.Folder
	dir  string   // local directory; "" with an MDA or without a store
	path []string // what the store opens the local folder by
}

// selectFolders selects the folders to sync: selectable, matched by the
// patterns, and mapped safely to a local directory. A name that cannot be
// mapped is reported and skipped: it counts as a failed folder until a
// pattern excludes it. Two server names that would share a directory are
// an error for the second.
func (e *engine) selectFolders(folders []*imapconn.Folder) ([]*folderJob, []error) {
	var jobs []*folderJob
	var errs []error
	dirs := map[string]string{}
	fail := func(f *imapconn.Folder, err error) {
		e.add(func(r *Result) { r.Failed++ })
		e.emit(report.Event{Kind: report.Error, Folder: f.Name, Err: err})
		errs = append(errs, planError{err})
	}
	for _, f := range folders {
		if !f.Selectable || !selected(e.opt.Patterns, f.Path) {
			continue
		}
		if f.Unusable != nil { // a name that does not decode: never selected
			fail(f, f.Unusable)
			continue
		}
		if e.opt.MDA != nil {
			jobs = append(jobs, &folderJob{f: f, path: f.Path})
			continue
		}
		dir, path, err := e.localDir(f)
		if err != nil {
			fail(f, failure.Wrap(failure.Other, fmt.Errorf(
				"imap: folder %q is skipped: its name cannot be mapped to a local folder safely (%w); exclude it with the pattern \"!%s\"", f.Name, err, strings.Join(f.Path, "/"))))
			continue
		}
		if dir != "" {
			if other, dup := dirs[dir]; dup {
				fail(f, failure.Wrap(failure.Other, fmt.Errorf("imap: folder %q is skipped: it maps to %s like folder %q", f.Name, dir, other)))
				continue
			}
			dirs[dir] = f.Name
		}
		jobs = append(jobs, &folderJob{f: f, dir: dir, path: path})
	}
	return jobs, errs
}

// planError is a folder that failed before it was synced: it counts in the
// total of folders.
type planError struct{ error }

func (p planError) Unwrap() error { return p.error }

func countPlanned(errs []error) int {
	n := 0
	for _, err := range errs {
		if _, ok := err.(planError); ok {
			n++
		}
	}
	return n
}

// noticeVanished reports, once, each folder that has a state but is gone
// from the server. Its local copy is left alone: a folder missing from a
// LIST is not proof enough to delete mail (DESIGN invariant 5). Patterns
// match it by the path a listed folder of its name would have (without
// the namespace prefix), as they match the folders that are listed.
func (e *engine) noticeVanished(l *imapconn.Listing) {
	onServer := map[string]bool{}
	for _, f := range l.Folders {
		if f.Selectable {
			onServer[f.Name] = true
		}
	}
	var gone []string
	for path, st := range e.statesOffServer(onServer) {
		if st.vanished || !selected(e.opt.Patterns, l.PathOf(st.name, '/')) && !selected(e.opt.Patterns, l.PathOf(st.name, '.')) {
			continue
		}
		gone = append(gone, st.name)
		if !e.opt.DryRun {
			if j, _, err := maildir.OpenJournal(path); err == nil {
				_ = j.Append(recG(true))
				_ = j.Sync()
				_ = j.Close()
			}
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		e.emit(report.Event{Kind: report.Notice, Folder: name,
			Text: fmt.Sprintf("folder %q no longer exists on the server; its local copy is left alone", name)})
	}
}

// statesOffServer returns the states, by journal path, of the folders
// not on the server. The file name spells the folder's name; only the
// state of a folder not on the server is read (to be sure of its name).
func (e *engine) statesOffServer(onServer map[string]bool) map[string]*folderState {
	entries, err := os.ReadDir(e.stateDir)
	if err != nil {
		return nil
	}
	out := map[string]*folderState{}
	for _, ent := range entries {
		base, ok := strings.CutSuffix(ent.Name(), ".journal")
		if !ok || strings.HasPrefix(base, ".") {
			continue
		}
		if name, err := maildir.UnescapeFolderElem(base); err == nil && !strings.Contains(base, "~") && onServer[name] {
			continue
		}
		path := filepath.Join(e.stateDir, ent.Name())
		recs, err := maildir.ReadJournal(path)
		if err != nil || len(recs) == 0 {
			continue
		}
		st, err := parseStateAny(recs)
		if err != nil || st.name == "" || onServer[st.name] {
			continue
		}
		out[path] = st
	}
	return out
}

// FolderInfo describes one folder for List.
type FolderInfo struct {
	Name      string // as the server names it (UTF-8)
	Messages  int
	Unseen    int
	Path      string // local directory; "" without a store
	Delimiter string // the server's hierarchy delimiter; "" when flat
}

// List returns the selectable folders the patterns select, with their
// message and unseen counts and local directories. It writes nothing.
func List(ctx context.Context, opt Options) ([]FolderInfo, error) {
	if err := opt.check(false); err != nil {
		return nil, err
	}
	if opt.Sink == nil {
		opt.Sink = report.Discard
	}
	e := newEngine(&opt)
	c, err := e.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	listing, err := c.ListFolders(ctx, imapconn.ListOptions{Status: true, Unseen: true})
	if err != nil {
		return nil, err
	}
	var out []FolderInfo
	for _, f := range listing.Folders {
		if !f.Selectable || !selected(opt.Patterns, f.Path) {
			continue
		}
		info := FolderInfo{Name: f.Name, Delimiter: f.Delimiter()}
		if f.Status != nil {
			if f.Status.Messages != nil {
				info.Messages = int(*f.Status.Messages)
			}
			if f.Status.Unseen != nil {
				info.Unseen = int(*f.Status.Unseen)
			}
		}
		if opt.MDA == nil {
			if dir, _, err := e.localDir(f); err == nil {
				info.Path = dir
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// CheckResult is what Check found.
type CheckResult struct {
	Capabilities []string
	Folders      int // selectable folders on the server
}

// Check connects, logs in, and lists the folders: a test of the account's
// settings that changes nothing.
func Check(ctx context.Context, opt Options) (CheckResult, error) {
	if err := opt.check(false); err != nil {
		return CheckResult{}, err
	}
	c, err := newEngine(&opt).dial(ctx)
	if err != nil {
		return CheckResult{}, err
	}
	defer c.Close()
	listing, err := c.ListFolders(ctx, imapconn.ListOptions{})
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{Capabilities: c.Caps().Names}
	for _, f := range listing.Folders {
		if f.Selectable {
			res.Folders++
		}
	}
	return res, nil
}
