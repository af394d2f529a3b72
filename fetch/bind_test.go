package fetch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// Tests of the state's binding to its Maildir (DESIGN invariant 8), against
// the harness Dovecot.

// useMaildir points a at the Maildir dir (created as the CLI would).
func (a *account) useMaildir(t testing.TB, dir string) {
	t.Helper()
	store, err := maildir.Open(dir, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	if a.inbox, err = store.Folder(nil); err != nil {
		t.Fatal(err)
	}
	a.dest = maildir.StoreDestination(store)
	a.maildir = dir
}

// dryOptions turns opt into the dry run of the same account: the Maildir
// as a read-only view (maildir.OpenView), as the CLI gives a dry run.
func dryOptions(opt Options, maildirDir string, sink report.Sink) Options {
	view, err := maildir.OpenView(maildirDir, maildir.LayoutMaildirPP)
	if err != nil {
		panic(err)
	}
	opt.DryRun, opt.Dest, opt.Sink = true, maildir.StoreDestination(view), sink
	return opt
}

// serverIDs lists the ServerIDs of the events of kind k, sorted.
func serverIDs(rec *recorder, k report.Kind) []string {
	var out []string
	for _, e := range rec.of(k) {
		out = append(out, e.ServerID)
	}
	slices.Sort(out)
	return out
}

// notices lists the texts of the Notice events.
func notices(rec *recorder) []string {
	var out []string
	for _, e := range rec.of(report.Notice) {
		out = append(out, e.Text)
	}
	return out
}

// dryThenReal runs opt as a dry run over maildirDir, then for real, and
// checks that the dry run announced exactly what the real run did: the
// same messages fetched, the same deleted, the same notices. It returns
// the real run's result and events.
func dryThenReal(t *testing.T, opt Options, maildirDir string) (Result, *recorder) {
	t.Helper()
	stateBefore, _ := os.ReadFile(filepath.Join(opt.StateDir, stateFile))
	_, maildirErr := os.Stat(maildirDir)
	dry := &recorder{}
	if _, err := Run(context.Background(), dryOptions(opt, maildirDir, dry)); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	// The dry run wrote nothing: not the state, not the Maildir, not
	// even the Maildir's identity.
	if after, _ := os.ReadFile(filepath.Join(opt.StateDir, stateFile)); !bytes.Equal(after, stateBefore) {
		t.Errorf("the dry run changed the state")
	}
	if _, err := os.Stat(maildirDir); os.IsNotExist(maildirErr) != os.IsNotExist(err) {
		t.Errorf("the dry run created the Maildir")
	}
	if _, err := os.Stat(filepath.Join(maildirDir, maildir.IDFile)); os.IsNotExist(maildirErr) && !os.IsNotExist(err) {
		t.Errorf("the dry run created the identity file")
	}
	real := &recorder{}
	opt.Sink = real
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatalf("real run: %v", err)
	}
	if w, d := serverIDs(dry, report.WouldFetch), serverIDs(real, report.Delivered); !slices.Equal(w, d) {
		t.Errorf("the dry run would fetch %d messages, the real run delivered %d", len(w), len(d))
	}
	if w, d := serverIDs(dry, report.WouldDelete), serverIDs(real, report.Deleted); !slices.Equal(w, d) {
		t.Errorf("the dry run would delete %d messages, the real run deleted %d", len(w), len(d))
	}
	if w, d := notices(dry), notices(real); !slices.Equal(w, d) {
		t.Errorf("dry run notices %q, real run notices %q", w, d)
	}
	return res, real
}

// noIDMessages are messages without a Message-ID: two of them identical
// (a mailing list sends the same bytes twice), so that a match must pair
// each file with one message only.
func noIDMessages() []dovetest.Message {
	m := func(i int) []byte {
		return fmt.Appendf(nil, "Return-Path: <ann@example.org>\nFrom: Ann <ann@example.org>\nTo: alice@example.org\n"+
			"Subject: no id %d\nDate: Mon, 01 Jan 2024 10:00:%02d +0000\n\nA message without a Message-ID.\n.\n", i, i)
	}
	return []dovetest.Message{{Raw: m(1)}, {Raw: m(2)}, {Raw: m(3)}, {Raw: m(3)}}
}

// The same keep-mode state over a new Maildir (a changed --maildir, an
// unmounted disk): every message is fetched into it, with one notice that
// says why, and the dry run shows exactly that. Back over the first
// Maildir, whose identity the state no longer names, nothing is fetched:
// everything is found there.
func TestDovecotBindNewMaildir(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "bindnew")
	msgs := append(dovetest.Generate(11, 120), noIDMessages()...)
	if err := srv.Seed("bindnew", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := newAccount(t, dir)
	m1 := a.maildir
	opt := a.dovecotOptions(srv, "bindnew", transport.TLSImplicit, nil)
	opt.Keep = true
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != len(msgs) {
		t.Fatalf("first run: %+v %v", res, err)
	}
	id1, _ := maildir.ReadID(m1)
	if id1 == "" {
		t.Fatal("the first run left the Maildir without an identity")
	}

	// A new Maildir at another path, not created yet.
	m2 := filepath.Join(dir, "Maildir2")
	res, rec := dryThenRealFresh(t, opt, m2, a)
	opt.Dest = a.dest
	if res.Delivered != len(msgs) || res.Matched != 0 {
		t.Errorf("over the new Maildir: %+v", res)
	}
	sameMessages(t, a.delivered(t), seededRaws(msgs))
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "not the one this state describes") ||
		!strings.Contains(n[0], "no mailfetch identity") || !strings.Contains(n[0], fmt.Sprintf("fetching %d", len(msgs))) {
		t.Errorf("notices %q", n)
	}
	// Bound now: the next run fetches nothing and says nothing.
	rec = &recorder{}
	opt.Sink = rec
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 0 || len(rec.of(report.Notice)) != 0 {
		t.Errorf("second run over the new Maildir: %+v %v %q", res, err, notices(rec))
	}

	// Back to the first Maildir: another identity. Everything is there.
	a.useMaildir(t, m1)
	opt.Dest = a.dest
	res, rec = dryThenReal(t, opt, m1)
	if res.Delivered != 0 || res.Matched != len(msgs) {
		t.Errorf("back over the first Maildir: %+v", res)
	}
	sameMessages(t, a.delivered(t), seededRaws(msgs))
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "another Maildir") ||
		!strings.Contains(n[0], fmt.Sprintf("matched %d messages already there by Message-ID and 4 without one", len(msgs)-4)) ||
		!strings.Contains(n[0], "fetching 0") {
		t.Errorf("notices %q", n)
	}
	if n := mustCount(t, srv, "bindnew"); n != len(msgs) {
		t.Errorf("%d messages on the server, want %d", n, len(msgs))
	}
}

// dryThenRealFresh is dryThenReal over a Maildir that does not exist yet:
// the dry run must not create it, the real run creates it through the
// destination (as the CLI does).
func dryThenRealFresh(t *testing.T, opt Options, dir string, a *account) (Result, *recorder) {
	t.Helper()
	dry := &recorder{}
	if _, err := Run(context.Background(), dryOptions(opt, dir, dry)); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the dry run created %s: %v", dir, err)
	}
	a.useMaildir(t, dir)
	opt.Dest = a.dest
	real := &recorder{}
	opt.Sink = real
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatalf("real run: %v", err)
	}
	if w, d := serverIDs(dry, report.WouldFetch), serverIDs(real, report.Delivered); !slices.Equal(w, d) {
		t.Errorf("the dry run would fetch %d messages, the real run delivered %d", len(w), len(d))
	}
	if w, d := notices(dry), notices(real); !slices.Equal(w, d) {
		t.Errorf("dry run notices %q, real run notices %q", w, d)
	}
	return res, real
}

// A second state directory over a Maildir that holds the mail already (a
// new state-dir, a restored backup): keep mode downloads nothing and
// duplicates nothing; messages without a Message-ID are matched by their
// header, each file once.
func TestDovecotBindSecondStateDir(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "bindsecond")
	msgs := append(dovetest.Generate(12, 150), noIDMessages()...)
	if err := srv.Seed("bindsecond", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, t.TempDir())
	opt := a.dovecotOptions(srv, "bindsecond", transport.TLSImplicit, nil)
	opt.Keep = true
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != len(msgs) {
		t.Fatalf("first run: %+v %v", res, err)
	}
	// 20 more arrive; the second state directory knows none.
	more := dovetest.Generate(13, 20)
	if err := srv.Seed("bindsecond", "INBOX", more); err != nil {
		t.Fatal(err)
	}
	opt.StateDir = filepath.Join(t.TempDir(), "state2")
	if err := os.Mkdir(opt.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	res, rec := dryThenReal(t, opt, a.maildir)
	if res.Delivered != len(more) || res.Matched != len(msgs) {
		t.Errorf("second state dir: %+v", res)
	}
	sameMessages(t, a.delivered(t), seededRaws(append(msgs, more...)))
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "no state for this account yet") ||
		!strings.Contains(n[0], "fetching 20") {
		t.Errorf("notices %q", n)
	}
	if n := mustCount(t, srv, "bindsecond"); n != len(msgs)+len(more) {
		t.Errorf("%d on the server", n)
	}
	// And it is bound now: nothing more.
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 0 || res.Matched != 0 {
		t.Errorf("third run: %+v %v", res, err)
	}
}

// A state written by version 1 (no identity) is taken as describing the
// Maildir: nothing is fetched again, and it is bound to it from then on.
func TestDovecotBindUpgradeV1(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "bindv1")
	msgs := dovetest.Generate(14, 60)
	if err := srv.Seed("bindv1", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, t.TempDir())
	opt := a.dovecotOptions(srv, "bindv1", transport.TLSImplicit, nil)
	opt.Keep = true
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != len(msgs) {
		t.Fatalf("first run: %+v %v", res, err)
	}
	// Make it what version 1 left: "V 1", the done records, no B, and
	// no identity in the Maildir.
	path := filepath.Join(a.stateDir, stateFile)
	recs, err := maildir.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var v1 [][]byte
	for _, r := range recs {
		switch r[0] {
		case 'V':
			v1 = append(v1, []byte("V 1"))
		case 'B':
		default:
			v1 = append(v1, r)
		}
	}
	j, _, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Rewrite(v1); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := os.Remove(filepath.Join(a.maildir, maildir.IDFile)); err != nil {
		t.Fatal(err)
	}
	a.useMaildir(t, a.maildir) // a new process: the identity is read again
	opt.Dest = a.dest
	res, rec := dryThenReal(t, opt, a.maildir)
	if res.Delivered != 0 || res.Matched != 0 || len(rec.of(report.Notice)) != 0 {
		t.Errorf("upgrade run: %+v, notices %q", res, notices(rec))
	}
	id, _ := maildir.ReadID(a.maildir)
	st, err := readStateReadOnly(a.stateDir)
	if err != nil || id == "" || st.bound != id || len(st.entries) != len(msgs) {
		t.Errorf("after the upgrade: identity %q, state bound to %q with %d entries, %v", id, st.bound, len(st.entries), err)
	}
	if recs, _ := maildir.ReadJournal(path); len(recs) == 0 || string(recs[0]) != "V 2" {
		t.Errorf("journal not rewritten as version 2")
	}
	sameMessages(t, a.delivered(t), seededRaws(msgs))
}

// quitCutter is a proxy in front of a plain POP3 port that drops the
// connection when the client sends QUIT: the server never commits the
// session's DELEs, as when a link dies at that instant.
type quitCutter struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	on     bool
}

func newQuitCutter(t *testing.T, target string) *quitCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	q := &quitCutter{ln: ln, target: target, on: true}
	q.wg.Add(1)
	go q.serve()
	t.Cleanup(func() { ln.Close(); q.wg.Wait() })
	return q
}

func (q *quitCutter) port() int { return q.ln.Addr().(*net.TCPAddr).Port }

func (q *quitCutter) set(on bool) { q.mu.Lock(); q.on = on; q.mu.Unlock() }

func (q *quitCutter) serve() {
	defer q.wg.Done()
	for {
		c, err := q.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", q.target)
		if err != nil {
			c.Close()
			continue
		}
		q.mu.Lock()
		on := q.on
		q.mu.Unlock()
		q.wg.Add(2)
		go func() {
			defer q.wg.Done()
			io.Copy(c, s)
			c.Close()
		}()
		go func() {
			defer q.wg.Done()
			defer s.Close()
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if on && strings.EqualFold(strings.TrimSpace(line), "QUIT") {
					return
				}
				if _, werr := s.Write([]byte(line)); werr != nil || err != nil {
					return
				}
			}
		}()
	}
}

// Delete mode, QUIT lost: the state says delivered, the server still has
// the messages. Then the Maildir changes to one that holds only some of
// them (a backup restored, without its identity): those are deleted
// without being fetched, the rest fetched again before deletion. Nothing
// is lost; the server ends empty; the new Maildir holds each message once.
func TestDovecotBindDeleteLostQuit(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "bindlostquit")
	msgs := append(dovetest.Generate(15, 80), noIDMessages()...)
	if err := srv.Seed("bindlostquit", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	cut := newQuitCutter(t, srv.POP3Addr())
	dir := t.TempDir()
	a := newAccount(t, dir)
	opt := a.dovecotOptions(srv, "bindlostquit", transport.TLSNone, nil)
	opt.Port = cut.port()
	opt.Security.AllowPlaintextAuth = true
	if _, err := Run(context.Background(), opt); err == nil {
		t.Fatal("a run whose QUIT was lost reported success")
	}
	if n := mustCount(t, srv, "bindlostquit"); n != len(msgs) {
		t.Fatalf("%d on the server after the lost QUIT, want all %d", n, len(msgs))
	}
	sameMessages(t, a.delivered(t), seededRaws(msgs))
	cut.set(false)

	// The new Maildir: a copy of some of the first one's files, without
	// its identity file.
	m2 := filepath.Join(dir, "Restored")
	a2 := &account{dir: dir, stateDir: a.stateDir}
	a2.useMaildir(t, m2)
	files, _ := filepath.Glob(filepath.Join(a.maildir, "new", "*"))
	slices.Sort(files)
	copied := 0
	for i, f := range files {
		if i%3 != 0 {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m2, "cur", filepath.Base(f)+":2,S"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	opt.Dest = a2.dest
	res, rec := dryThenReal(t, opt, m2)
	if res.Matched != copied || res.Delivered != len(msgs)-copied || res.Deleted != len(msgs) {
		t.Errorf("over the restored Maildir: %+v (copied %d)", res, copied)
	}
	sameMessages(t, a2.delivered(t), seededRaws(msgs))
	if n := mustCount(t, srv, "bindlostquit"); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "not the one this state describes") ||
		!strings.Contains(n[0], fmt.Sprintf("deleting %d already there", copied)) {
		t.Errorf("notices %q", n)
	}
	// The first Maildir keeps its copies: a possible duplicate across
	// the two, never a loss.
	sameMessages(t, a.delivered(t), seededRaws(msgs))
}

// A server without TOP cannot be re-matched: over a Maildir the state does
// not describe, everything is fetched, and the notice says why.
func TestFakeBindNoTop(t *testing.T) {
	t.Parallel()
	msgs := testMessages(10)
	srv := newFakeServer(t, msgs)
	dir := t.TempDir()
	a := newAccount(t, dir)
	opt := a.fakeOptions(srv, nil)
	opt.Keep = true
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 10 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	srv.set(func(s *fakeServer) { s.noTop = true })
	m2 := filepath.Join(dir, "Other")
	res, rec := dryThenRealFresh(t, opt, m2, a)
	if res.Delivered != 10 || res.Matched != 0 {
		t.Errorf("%+v", res)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
	if n := notices(rec); len(n) != 1 || !strings.Contains(n[0], "has no TOP") || !strings.Contains(n[0], "fetching 10") {
		t.Errorf("notices %q", n)
	}
}
