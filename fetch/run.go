package fetch

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/ledger"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// Options are the settings of one POP3 run. main.go fills them from an
// account; the engine never reads a config file.
type Options struct {
	Account  string // for events and messages
	Host     string
	Port     int // 0: 995 with implicit TLS, 110 otherwise
	Security transport.Security
	Timeouts transport.Timeouts

	User, Secret string
	// Auth is auto|user|plain|login|cram-md5|xoauth2|oauthbearer|apop; ""
	// is auto. With xoauth2 and oauthbearer, Secret is the access token.
	Auth string

	// Dest is where messages go: the INBOX mailbox of its Maildir store,
	// or its MDA. A dry run gets a read-only view (maildir.OpenView) and
	// reads the Maildir there (its identity, its messages) to show what the
	// real run would do, creating and changing nothing; a dry run may also
	// get no destination, and then trusts the state as it is.
	Dest maildir.Destination
	// StateDir is the account's state directory; it exists (0700) and
	// the caller holds its lock. A dry run only reads it.
	StateDir string

	// Keep leaves messages on the server; each is fetched once.
	Keep bool
	// All fetches every message, whatever the state says was fetched.
	All bool
	// DeleteAfter (with Keep) deletes a message this long after it was
	// first fetched; 0 never.
	DeleteAfter time.Duration
	// MaxSize skips (and reports) messages larger than this; 0 no limit.
	MaxSize int64
	// MaxMessages fetches at most this many messages per run; 0 no limit.
	MaxMessages int
	// DryRun connects and reports what would be fetched and deleted as
	// WouldFetch and WouldDelete events; it writes and deletes nothing.
	DryRun bool
	// Window is the number of RETR commands in flight when the server
	// advertises PIPELINING; 0 means pop3.DefaultWindow, and
	// pop3.MaxWindow (128) is the most.
	Window int

	Sink  report.Sink // nil: events are dropped
	Trace io.Writer   // protocol transcript, credentials redacted; nil off

	// now is the clock, time.Now when nil; tests set it to exercise
	// DeleteAfter.
	now func() time.Time
}

// Result counts what a run did.
type Result struct {
	Delivered int   // messages durably delivered
	Deleted   int   // messages deleted on the server (QUIT committed)
	Skipped   int   // messages over MaxSize
	Failed    int   // messages that failed and stay on the server
	Bytes     int64 // bytes delivered
	// Matched counts the server's messages found already in the Maildir
	// by their content when the state did not describe it (see rematch):
	// not fetched again.
	Matched int
}

// CheckResult is what Check learned about the maildrop.
type CheckResult struct {
	Messages     int
	Bytes        int64
	Capabilities []string
}

// Batch limits: a batch is published (one journal fsync, then one
// directory fsync) when it holds this many messages or bytes, whichever
// comes first.
const (
	batchMessages = 64
	batchBytes    = 16 << 20
)

// Run fetches the account's mail as opt says. The error's failure kind
// gives the exit code: Auth for a refused login, Temporary for network
// trouble and a busy server, Protocol for a server that does not speak
// POP3, LocalIO for a disk problem (the fetching stops; what was delivered
// before it is deleted as usual, nothing that is not durable is), Partial
// when some messages failed and the others were fetched.
func Run(ctx context.Context, opt Options) (Result, error) {
	r := newRunner(opt)
	r.emit(report.Event{Kind: report.AccountStart})
	err := r.run(ctx)
	r.emit(report.Event{Kind: report.AccountDone, Err: err, Count: int64(r.res.Delivered), Bytes: r.res.Bytes})
	return r.res, err
}

// Check connects, logs in, and reports the maildrop's size and the
// server's capabilities (as CAPA lists them after login).
func Check(ctx context.Context, opt Options) (CheckResult, error) {
	s, err := connect(ctx, opt)
	if err != nil {
		return CheckResult{}, err
	}
	defer s.close()
	var res CheckResult
	res.Messages, res.Bytes, err = s.stat(ctx)
	if err != nil {
		return CheckResult{}, err
	}
	res.Capabilities, err = s.capabilities(ctx)
	if err != nil {
		return CheckResult{}, err
	}
	return res, s.quit(ctx)
}

// runner is one Run.
type runner struct {
	opt  Options
	sink report.Sink

	// mbox is INBOX of a Maildir destination (read-only in a dry run),
	// mda an MDA destination; target is the one of them that is set.
	mbox   maildir.Mailbox
	mda    *maildir.MDA
	target maildir.Target
	ledger *ledger.Ledger
	st     *uidlState

	// mu guards res and failed: the committer reports deliveries while
	// the connection's goroutine reports failures.
	mu     sync.Mutex
	res    Result
	failed []error // per-message failures, for the Partial error
}

func newRunner(opt Options) *runner {
	r := &runner{opt: opt, sink: opt.Sink}
	if r.sink == nil {
		r.sink = report.Discard
	}
	return r
}

// clock is the time now.
func (r *runner) clock() time.Time {
	if r.opt.now != nil {
		return r.opt.now()
	}
	return time.Now()
}

func (r *runner) emit(e report.Event) {
	e.Time = r.clock()
	e.Account = r.opt.Account
	e.Protocol = "pop3"
	if e.Kind != report.AccountStart && e.Kind != report.AccountDone {
		e.Folder = "INBOX"
	}
	r.sink.Emit(e)
}

func (r *runner) notice(format string, args ...any) {
	r.emit(report.Event{Kind: report.Notice, Text: fmt.Sprintf(format, args...)})
}

// messageFailed reports one message that failed; the run goes on.
func (r *runner) messageFailed(m serverMsg, err error) {
	r.mu.Lock()
	r.res.Failed++
	r.failed = append(r.failed, err)
	r.mu.Unlock()
	r.emit(report.Event{Kind: report.Error, ServerID: m.UIDL, Size: m.Size, Err: err})
}

// run is one run: the local side first (destination, state, binding,
// deliveries left in doubt), then the session: listing, plan, and either
// the dry run's report or the deliveries and deletions.
func (r *runner) run(ctx context.Context) (err error) {
	if err := r.checkOptions(); err != nil {
		return err
	}
	if err := r.openDestination(); err != nil {
		return err
	}
	// The state is read before connecting: a local problem fails the run
	// before the server is touched.
	if err := r.openState(); err != nil {
		return err
	}
	defer func() {
		if cerr := r.ledger.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	b, err := r.decideBinding()
	if err != nil {
		return err
	}
	// A state that describes another Maildir names files that are not
	// here: the re-match replaces it, pending records included.
	if !r.opt.DryRun && b.mode != bindRematch {
		if err := r.resolvePending(); err != nil {
			return err
		}
	}

	s, err := connect(ctx, r.opt)
	if err != nil {
		return err
	}
	defer s.close()
	if uerr := s.utf8Refused(); uerr != nil {
		r.notice("the server lists UTF8 but refused it (%v): it may serve a stand-in for a message whose header has raw UTF-8", uerr)
	}
	msgs, err := r.list(ctx, s)
	if err != nil {
		return err
	}
	p, infos, err := r.plan(ctx, s, b, msgs)
	if err != nil {
		return err
	}
	if r.opt.DryRun {
		if err := r.dryRun(ctx, s, p, infos); err != nil {
			return err
		}
		return s.quit(ctx)
	}
	onServer := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if m.UIDL != "" {
			onServer[m.UIDL] = true
		}
	}
	return r.deliverAndDelete(ctx, s, p, onServer)
}

// checkOptions refuses options a real run cannot go with.
func (r *runner) checkOptions() error {
	opt := r.opt
	switch {
	case opt.DryRun:
		return nil
	case opt.Dest.IsZero():
		return failure.New(failure.Usage, "pop3: no Maildir or MDA to deliver to")
	case opt.Dest.ReadOnly():
		return failure.New(failure.Usage, "pop3: a read-only view of the Maildir is for a dry run")
	case opt.StateDir == "":
		return failure.New(failure.Usage, "pop3: no state directory")
	}
	return nil
}

// list reads the maildrop's UIDL and LIST, and refuses (keep mode) or
// announces (delete mode) a server whose UIDLs cannot tell messages apart.
func (r *runner) list(ctx context.Context, s *session) ([]serverMsg, error) {
	sizes, uidls, hasUIDL, err := s.listing(ctx)
	if err != nil {
		return nil, err
	}
	msgs, dups := joinListing(sizes, uidls)
	if !hasUIDL {
		if r.opt.Keep {
			return nil, failure.New(failure.Other, "pop3: the server does not support UIDL, so --keep cannot tell "+
				"new messages from old ones: refusing to run (without --keep every message is fetched and then deleted)")
		}
		r.notice("the server does not support UIDL: messages are deleted after delivery, " +
			"but a run interrupted before it ends will fetch them again")
	}
	if len(dups) > 0 {
		if r.opt.Keep {
			return nil, fmt.Errorf("pop3: the server listed UIDL %q for more than one message: --keep cannot tell them apart", dups[0])
		}
		r.notice("the server listed %d UIDLs for more than one message (e.g. %q): those messages are fetched "+
			"and deleted without being recorded, and fetched again if this run is interrupted", len(dups), dups[0])
	}
	return msgs, nil
}

// plan re-matches a state that does not describe the Maildir, records
// the binding (not in a dry run), decides what to fetch, delete and skip,
// and reports it. infos holds what a re-match learned from TOP.
func (r *runner) plan(ctx context.Context, s *session, b binding, msgs []serverMsg) (plan, map[int]topInfo, error) {
	var (
		rm    rematchResult
		infos map[int]topInfo
		err   error
	)
	if b.mode == bindRematch {
		if rm, infos, err = r.rematch(ctx, s, b, msgs); err != nil {
			return plan{}, nil, err
		}
		r.res.Matched = len(rm.here)
	}
	if !r.opt.DryRun {
		if err := r.bindState(b); err != nil {
			return plan{}, nil, err
		}
	}
	p := makePlan(msgs, r.st, rm.here, r.opt, r.clock())
	if b.mode == bindRematch {
		r.notice("%s", rematchNotice(b, rm, p, r.opt.Keep))
	}
	r.emit(report.Event{Kind: report.FolderStart, Count: int64(len(p.fetch)), Bytes: p.fetchBytes})
	for _, m := range p.skipped {
		r.res.Skipped++
		r.emit(report.Event{Kind: report.Skipped, ServerID: m.UIDL, Size: m.Size, Text: describeSkip(m.Size, r.opt.MaxSize)})
	}
	if p.limited > 0 {
		r.notice("max-messages: %d more messages left on the server for a later run", p.limited)
	}
	return p, infos, nil
}

// deliverAndDelete fetches what p says, deletes on the server what is
// durably delivered (and what p says was delivered before), QUITs, and
// compacts the state to the UIDLs still onServer.
func (r *runner) deliverAndDelete(ctx context.Context, s *session, p plan, onServer map[string]bool) error {
	delivered, fetchErr := r.fetchAll(ctx, s, p)
	r.emit(report.Event{Kind: report.FolderDone, Count: int64(r.res.Delivered), Bytes: r.res.Bytes})

	// A local failure (a full disk, a quota) stops the fetching, but what
	// was delivered before it is durable and journaled: it is deleted as
	// usual, so that a run at quota makes progress rather than fail the
	// same way every time. RetrPipelined drained the RETRs in flight, so
	// the session is in step; if it is not, the DELEs fail and nothing is
	// deleted (the next run deletes them).
	localFail := failure.KindOf(fetchErr) == failure.LocalIO
	var deleted []serverMsg
	committed := false
	if fetchErr == nil || localFail {
		var qerr error
		deleted, committed, qerr = r.deleteAndQuit(ctx, s, p, delivered)
		if fetchErr == nil {
			fetchErr = qerr
		}
	}
	gone := map[string]bool{}
	if committed {
		if err := r.recordDeleted(deleted, gone); err != nil {
			return firstError(r.localFailure(fetchErr, p, localFail), err)
		}
	}
	if err := r.compact(func(u string) bool { return onServer[u] && !gone[u] }); err != nil {
		return firstError(r.localFailure(fetchErr, p, localFail), err)
	}
	if fetchErr != nil {
		return r.localFailure(fetchErr, p, localFail)
	}
	if len(r.failed) > 0 {
		return failure.Wrap(failure.Partial, fmt.Errorf("pop3: %d messages failed and stay on the server (first: %w)", len(r.failed), r.failed[0]))
	}
	return nil
}

// deleteAndQuit sends DELE for the messages p deletes without fetching
// and for those delivered (durable and journaled, or without a UIDL at
// least durable) that are to be deleted, then QUIT, whose +OK commits the
// deletions: committed says it came.
func (r *runner) deleteAndQuit(ctx context.Context, s *session, p plan, delivered []planned) (deleted []serverMsg, committed bool, err error) {
	dele := append([]serverMsg(nil), p.dele...)
	for _, d := range delivered {
		if d.dele {
			dele = append(dele, d.serverMsg)
		}
	}
	if len(dele) > 0 {
		if deleted, err = r.deleteAll(ctx, s, dele); err != nil {
			return nil, false, err
		}
	}
	if err := s.quit(ctx); err != nil {
		return deleted, false, fmt.Errorf("%w (the server keeps the %d messages marked for deletion; the next run deletes them)", err, len(deleted))
	}
	return deleted, true, nil
}

// localFailure adds to a local failure what the run did before it: a user
// at quota learns that some mail arrived and that the rest waits on the
// server. Other errors are returned as they are.
func (r *runner) localFailure(err error, p plan, local bool) error {
	if err == nil || !local {
		return err
	}
	done := fmt.Sprintf("delivered %d messages before that", r.res.Delivered)
	if r.res.Deleted > 0 {
		done += fmt.Sprintf(", deleted %d on the server", r.res.Deleted)
	}
	return fmt.Errorf("%w (%s; the other %d stay on the server for the next run)", err, done, len(p.fetch)-r.res.Delivered)
}

// firstError is a if it is not nil, else b.
func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// dryRun lists what the run would do. It describes each message it would
// fetch by its header (From, Subject, Message-ID, Date) where the server
// has TOP, by its size alone where not. headers holds what a re-match
// already asked TOP for; nil when it did not.
func (r *runner) dryRun(ctx context.Context, s *session, p plan, headers map[int]topInfo) error {
	if headers == nil {
		nums := make([]int, len(p.fetch))
		for i, m := range p.fetch {
			nums[i] = m.Num
		}
		var err error
		if headers, err = s.headers(ctx, nums, true); err != nil {
			return err
		}
	}
	for _, m := range p.fetch {
		e := report.Event{Kind: report.WouldFetch, ServerID: m.UIDL, Size: m.Size}
		if in, ok := headers[m.Num]; ok {
			h := in.header
			e.From, e.Subject, e.MessageID, e.Date = h.From, h.Subject, h.MessageID, h.Date
		}
		if e2 := r.st.entries[m.UIDL]; m.UIDL != "" && e2 != nil && !e2.done {
			e.Text = "an interrupted delivery is checked first: fetched only if it did not complete"
		}
		r.emit(e)
	}
	for _, m := range p.dele {
		r.emit(report.Event{Kind: report.WouldDelete, ServerID: m.UIDL})
	}
	for _, m := range p.fetch {
		if m.dele {
			r.emit(report.Event{Kind: report.WouldDelete, ServerID: m.UIDL})
		}
	}
	return nil
}

// openDestination takes the Maildir's INBOX, or the MDA, from Dest.
func (r *runner) openDestination() error {
	d := r.opt.Dest
	switch {
	case d.MDA() != nil:
		r.mda, r.target = d.MDA(), d.MDA()
	case !d.IsZero():
		mb, err := d.Mailbox(nil)
		if err != nil {
			return err
		}
		r.mbox, r.target = mb, mb
	}
	return nil
}

// openState opens the journal and replays it; a dry run only reads it.
func (r *runner) openState() error {
	if !r.opt.DryRun {
		// Leftovers of a run killed while it compacted the journal.
		_, _ = maildir.RemoveStaleTemps(r.opt.StateDir, maildir.StaleTempAge)
	}
	l, st, err := openState(r.opt.StateDir, r.opt.DryRun)
	if err != nil {
		return err
	}
	r.ledger, r.st = l, st
	return nil
}

// resolvePending settles deliveries an earlier run left in doubt (a
// pending record without its done record: killed between the two) with
// ledger.Resolve. If the unique name is in new/ or cur/, the message was
// delivered: it is recorded as done. Otherwise it was not, and it is
// forgotten so that it is fetched again. An MDA delivery cannot be looked
// for: the message is fetched again and may reach the MDA twice, which a
// notice says (a duplicate rather than a loss).
func (r *runner) resolvePending() error {
	doubt := r.st.doubt()
	if len(doubt) == 0 {
		return nil
	}
	find, err := r.finder(len(doubt))
	if err != nil {
		return err
	}
	res, err := r.ledger.Resolve(doubt, find)
	if err != nil {
		return err
	}
	for _, in := range res.Delivered {
		e := r.st.entries[in.ID]
		e.done, e.pending = true, nil
	}
	for _, in := range res.Again {
		delete(r.st.entries, in.ID)
	}
	for _, in := range res.Unsure {
		if ledger.IsMDA(in.Unique) {
			r.notice("message %s: a delivery to the MDA was interrupted; it is fetched again and may be delivered twice", in.ID)
		} else {
			r.notice("message %s: a delivery into a Maildir was interrupted and cannot be checked now that "+
				"mail goes to an MDA; it is fetched again and may be delivered twice", in.ID)
		}
		delete(r.st.entries, in.ID)
	}
	return nil
}

// finder returns a lookup of unique names in the mailbox's new/ and cur/,
// or nil when mail goes to an MDA. For a few names Mailbox.Find is
// cheapest (one stat each when the message is where it was delivered);
// for many, one Scan of the folder answers them all, by the same core of
// the name (maildir.UniqueCore).
func (r *runner) finder(wanted int) (func(unique string) (bool, error), error) {
	if r.mbox == nil {
		return nil, nil
	}
	if wanted <= 16 {
		return func(u string) (bool, error) {
			_, ok, err := r.mbox.Find(u)
			if err != nil {
				return false, failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: looking for %s: %w", u, err))
			}
			return ok, nil
		}, nil
	}
	entries, err := r.mbox.Scan()
	if err != nil {
		return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: looking for interrupted deliveries: %w", err))
	}
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[maildir.UniqueCore(e.Unique)] = true
	}
	return func(u string) (bool, error) { return have[maildir.UniqueCore(u)], nil }, nil
}

// recordDeleted journals the deletions QUIT committed, so that the UIDLs
// are forgotten even if the compaction does not happen: a server that
// later reuses a UIDL must not see its new message taken for delivered.
func (r *runner) recordDeleted(deleted []serverMsg, gone map[string]bool) error {
	var recs []record
	for _, m := range deleted {
		r.res.Deleted++
		r.emit(report.Event{Kind: report.Deleted, ServerID: m.UIDL})
		if m.UIDL != "" {
			gone[m.UIDL] = true
			delete(r.st.entries, m.UIDL)
			recs = append(recs, record{Kind: recGone, UIDL: m.UIDL})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	lines := make([][]byte, len(recs))
	for i, rec := range recs {
		lines[i] = rec.format()
	}
	if err := r.ledger.Append(lines...); err != nil {
		return err
	}
	return r.ledger.Sync()
}

// compact rewrites the journal to the done records of the UIDLs keep
// selects.
func (r *runner) compact(keep func(string) bool) error {
	return r.ledger.Rewrite(r.st.compacted(keep))
}

// deleteAll marks msgs for deletion. A DELE the server refuses is reported
// for that message, which stays delivered in the state (the next run tries
// again); a connection failure stops it.
func (r *runner) deleteAll(ctx context.Context, s *session, msgs []serverMsg) ([]serverMsg, error) {
	nums := make([]int, len(msgs))
	for i, m := range msgs {
		nums[i] = m.Num
	}
	refused, err := s.dele(ctx, nums)
	if err != nil {
		return nil, err
	}
	var ok []serverMsg
	for _, m := range msgs {
		if rerr := refused[m.Num]; rerr != nil {
			r.messageFailed(m, rerr)
			continue
		}
		ok = append(ok, m)
	}
	return ok, nil
}

// delivery is a message staged in the target, waiting to be published.
type delivery struct {
	planned
	staged  *maildir.Staged
	fetched time.Time
}

// firstFetched is when the message was first fetched: before, for a
// message fetched again (All), else now.
func (d *delivery) firstFetched() time.Time {
	if d.first.IsZero() {
		return d.fetched
	}
	return d.first
}

// bodyReader remembers the error the message stream gave, so that a failed
// Stage can be told apart: the connection's fault (the server keeps the
// message, the run stops with the connection) or the disk's (LocalIO).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// fetchAll retrieves the planned messages and delivers them durably. It
// returns the delivered messages whose delivery is durable and journaled,
// and the error that stopped it early, if any.
func (r *runner) fetchAll(ctx context.Context, s *session, p plan) ([]planned, error) {
	if len(p.fetch) == 0 {
		return nil, nil
	}
	byNum := make(map[int]planned, len(p.fetch))
	nums := make([]int, len(p.fetch))
	for i, m := range p.fetch {
		byNum[m.Num] = m
		nums[i] = m.Num
	}
	if r.mbox == nil {
		return r.fetchToMDA(ctx, s, nums, byNum)
	}

	c := r.startCommitter()
	var (
		cur      []*delivery
		curBytes int64
	)
	flush := func() {
		if len(cur) > 0 {
			c.batches <- cur
			cur, curBytes = nil, 0
		}
	}
	err := s.retrieve(ctx, nums, func(n int, body io.Reader) error {
		if err := c.failed(); err != nil {
			return err
		}
		m, ok := byNum[n]
		if !ok {
			return fmt.Errorf("pop3: the server sent message %d, which was not asked for", n)
		}
		br := &bodyReader{r: body}
		st, err := r.mbox.Stage(ctx, br, maildir.StageOptions{SizeHint: m.Size})
		if err != nil {
			return r.stageError(ctx, m.serverMsg, br, err)
		}
		cur = append(cur, &delivery{planned: m, staged: st, fetched: r.clock()})
		curBytes += st.Size()
		if len(cur) >= batchMessages || curBytes >= batchBytes {
			flush()
		}
		return nil
	}, func(n int, err error) {
		// The server refused this one message (RETR -ERR): it stays
		// on the server, the run goes on.
		r.messageFailed(byNum[n].serverMsg, err)
	})
	if c.failed() != nil {
		// The committer failed: it discards whatever it is given.
		r.mbox.Discard(stagedOf(cur)...)
	} else {
		// Whatever was staged is complete, even when the disk filled
		// up under the next message (whose Stage removed its own file)
		// or the connection failed: publishing it, in the order of
		// commit, delivers what fits and saves the next run fetching
		// it again.
		flush()
	}
	close(c.batches)
	c.wg.Wait()
	cerr := c.failed()
	if err == nil {
		err = cerr
	}
	// The done records of the batches published are synced before
	// anything is deleted (see commit), also when a later batch failed:
	// those messages are durable, and deleting them is what lets a run
	// at quota make progress.
	if len(c.done) > 0 {
		if serr := r.ledger.Sync(); serr != nil {
			if err == nil {
				err = serr
			}
			return nil, err
		}
	}
	return c.done, err
}

// stageError classifies a failed Stage: the message stream's fault (network
// or protocol), a cancelled run, or the disk's.
func (r *runner) stageError(ctx context.Context, m serverMsg, br *bodyReader, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case br.err != nil:
		return classify(fmt.Errorf("pop3: RETR %d: %w", m.Num, br.err))
	}
	return failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: delivering message %d (%s): %w", m.Num, describeUIDL(m.UIDL), err))
}

func describeUIDL(u string) string {
	if u == "" {
		return "no UIDL"
	}
	return "UIDL " + u
}

func stagedOf(ds []*delivery) []*maildir.Staged {
	out := make([]*maildir.Staged, len(ds))
	for i, d := range ds {
		out[i] = d.staged
	}
	return out
}

// committer publishes batches while the connection goes on streaming the
// next messages: the socket and the disk work at the same time.
type committer struct {
	batches chan []*delivery
	wg      sync.WaitGroup
	err     atomic.Pointer[error]
	// done lists the messages whose delivery is durable, without their
	// Staged (10,000 of those would hold megabytes); read after wg.Wait.
	done []planned
}

func (c *committer) failed() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *runner) startCommitter() *committer {
	// One batch queued while one is published and one is filled: the
	// staged-but-unpublished messages (and their open files) stay bounded.
	c := &committer{batches: make(chan []*delivery, 1)}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for b := range c.batches {
			if c.failed() != nil {
				r.mbox.Discard(stagedOf(b)...)
				continue
			}
			if err := r.commit(b); err != nil {
				c.err.Store(&err)
				continue
			}
			for _, d := range b {
				c.done = append(c.done, d.planned)
			}
		}
	}()
	return c
}

// commit makes one batch durable through the ledger (ledger.Deliver), in
// the order DESIGN invariant 1 demands: pending records synced, then
// Publish (waits for each file's fsync, renames into new/, fsyncs the
// directory), then done records. The messages published are then durably
// in the Maildir and reported delivered.
//
// Their done records are appended but not synced here: the next batch's
// sync, or the one fetchAll makes before any DELE, carries them. That
// saves an fsync per batch and costs nothing in safety: until a done record
// is durable its pending record is, and a pending message found in new/ is
// delivered (resolvePending). No DELE is sent before the final sync. When
// the batch fails part way, the messages published are reported and
// recorded but not deleted on the server in this run (the next run
// deletes them): the batch's error stops the run.
func (r *runner) commit(b []*delivery) error {
	batch := make([]ledger.Delivery, len(b))
	byStaged := make(map[*maildir.Staged]*delivery, len(b))
	for i, d := range b {
		// A message without a UIDL has an ID of "": published, not journaled.
		batch[i] = ledger.Delivery{Intent: pop3Intent(d.UIDL, d.staged.Unique(), d.fetched, d.firstFetched()), Staged: d.staged}
		byStaged[d.staged] = d
	}
	done, err := r.ledger.Deliver(r.mbox, batch)
	for _, ld := range done {
		d := byStaged[ld.Staged]
		if d.UIDL != "" {
			r.st.apply(record{Kind: recDone, UIDL: d.UIDL, Time: d.firstFetched()})
		}
		r.delivered(d)
	}
	if err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("pop3: delivering into %s: %w", r.mbox.Dir(), err))
	}
	return nil
}

// delivered counts and reports one durable delivery.
func (r *runner) delivered(d *delivery) {
	h := d.staged.Header()
	r.mu.Lock()
	r.res.Delivered++
	r.res.Bytes += d.staged.Size()
	r.mu.Unlock()
	r.emit(report.Event{Kind: report.Delivered, ServerID: d.UIDL, Path: d.staged.Path(), Size: d.staged.Size(),
		MessageID: h.MessageID, From: h.From, Subject: h.Subject, Date: h.Date})
}

// maxMDAFailures is how many MDA failures in a row stop a run: one message
// the MDA rejects must not hold back the others, but an MDA that fails for
// everything should not be fed the whole maildrop.
const maxMDAFailures = 5

// fetchToMDA delivers each message to the MDA as it arrives, through the
// ledger (ledger.DeliverNow): a pending record with no unique name,
// synced, before each delivery marks the ones a crash leaves in doubt
// (see resolvePending); the MDA returns only after it exited 0, i.e. the
// message is delivered; the done record follows at once, and the records
// are synced before any DELE.
func (r *runner) fetchToMDA(ctx context.Context, s *session, nums []int, byNum map[int]planned) ([]planned, error) {
	var done, unsynced []planned
	consecutive := 0
	sync := func() error {
		if err := r.ledger.Sync(); err != nil {
			return err
		}
		done = append(done, unsynced...)
		unsynced = unsynced[:0]
		return nil
	}
	err := s.retrieve(ctx, nums, func(n int, body io.Reader) error {
		m, ok := byNum[n]
		if !ok {
			return fmt.Errorf("pop3: the server sent message %d, which was not asked for", n)
		}
		refused, err := r.deliverToMDA(ctx, m, body)
		if err != nil {
			return err
		}
		if refused != nil {
			// The MDA refused this message: it stays on the server and
			// the run goes on (RetrPipelined drains the rest of the
			// body). An MDA that refuses every message stops the run.
			if consecutive++; consecutive >= maxMDAFailures {
				return fmt.Errorf("%w (the MDA failed %d times in a row: stopping)", refused, consecutive)
			}
			r.messageFailed(m.serverMsg, refused)
			return nil
		}
		consecutive = 0
		unsynced = append(unsynced, m)
		if len(unsynced) >= batchMessages {
			return sync()
		}
		return nil
	}, func(n int, err error) {
		r.messageFailed(byNum[n].serverMsg, err)
	})
	if serr := sync(); serr != nil && err == nil {
		err = serr
	}
	return done, err
}

// deliverToMDA hands one message to the MDA under the intent protocol and
// reports it delivered. refused is the MDA's failure for this message; err
// (the connection's, the journal's, a cancelled run) stops the run.
func (r *runner) deliverToMDA(ctx context.Context, m planned, body io.Reader) (refused, err error) {
	d := delivery{planned: m, fetched: r.clock()}
	br := &bodyReader{r: body}
	var mdaErr error
	st, err := r.ledger.DeliverNow(pop3Intent(m.UIDL, mdaUnique, d.fetched, d.firstFetched()), func() (*maildir.Staged, error) {
		var st *maildir.Staged
		st, mdaErr = r.mda.Stage(ctx, br, maildir.StageOptions{SizeHint: m.Size})
		return st, mdaErr
	})
	switch {
	case mdaErr != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case mdaErr != nil && br.err != nil:
		return nil, classify(fmt.Errorf("pop3: RETR %d: %w", m.Num, br.err))
	case mdaErr != nil:
		return fmt.Errorf("pop3: message %d (%s): %w", m.Num, describeUIDL(m.UIDL), mdaErr), nil
	case err != nil:
		return nil, err // the journal's
	}
	if m.UIDL != "" {
		r.st.apply(record{Kind: recDone, UIDL: m.UIDL, Time: d.firstFetched()})
	}
	d.staged = st
	r.delivered(&d)
	return nil, nil
}
