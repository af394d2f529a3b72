package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// These tests use the in-process fake server (fakeserver_test.go) to cut
// connections where no real server can be made to.

func TestFakeDeleteMode(t *testing.T) {
	t.Parallel()
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			msgs := testMessages(150) // over two batches
			srv := newFakeServer(t, msgs)
			srv.set(func(s *fakeServer) { s.pipelining = pipelining })
			a := newAccount(t, t.TempDir())
			rec := &recorder{}
			res, err := Run(context.Background(), a.fakeOptions(srv, rec))
			if err != nil {
				t.Fatal(err)
			}
			if res.Delivered != 150 || res.Deleted != 150 || res.Failed != 0 {
				t.Errorf("result %+v", res)
			}
			sameMessages(t, a.delivered(t), raws(msgs))
			if n := len(srv.remaining()); n != 0 {
				t.Errorf("%d messages left on the server", n)
			}
			if a.tmpFiles(t) != 0 {
				t.Errorf("files left in tmp/")
			}
			ev := rec.of(report.Delivered)
			if len(ev) != 150 {
				t.Fatalf("%d Delivered events", len(ev))
			}
			for _, e := range ev {
				if e.Path == "" || e.ServerID == "" || e.MessageID == "" || !strings.HasPrefix(e.Subject, "message ") {
					t.Fatalf("incomplete event %+v", e)
				}
			}
			if n := len(rec.of(report.Deleted)); n != 150 {
				t.Errorf("%d Deleted events", n)
			}
			fs := rec.of(report.FolderStart)
			if len(fs) != 1 || fs[0].Count != 150 || fs[0].Folder != "INBOX" {
				t.Errorf("FolderStart %+v", fs)
			}
			// The state forgets what QUIT deleted.
			st, err := readStateReadOnly(a.stateDir)
			if err != nil || len(st.entries) != 0 {
				t.Errorf("state after a complete run: %v %v", dumpState(st), err)
			}
		})
	}
}

// A connection cut in the middle of a message: nothing is deleted, the
// messages already published stay, and the next run delivers the rest,
// each message once.
func TestFakeCutMidRetr(t *testing.T) {
	t.Parallel()
	msgs := testMessages(200)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	for _, cut := range []int{1, 70, 131} {
		srv.set(func(s *fakeServer) { s.cutRetr = cut })
		_, err := Run(context.Background(), a.fakeOptions(srv, nil))
		if failure.KindOf(err) != failure.Temporary {
			t.Fatalf("cut at %d: got %v (kind %v), want a temporary failure", cut, err, failure.KindOf(err))
		}
		if n := len(srv.remaining()); n != 200 {
			t.Fatalf("cut at %d: %d messages on the server, want all 200", cut, n)
		}
		got := a.delivered(t)
		if len(got) > cut-1 {
			t.Fatalf("cut at %d: %d delivered: a cut message was delivered", cut, len(got))
		}
	}
	srv.set(func(s *fakeServer) { s.cutRetr = 0 })
	if _, err := Run(context.Background(), a.fakeOptions(srv, nil)); err != nil {
		t.Fatal(err)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
	if n := len(srv.remaining()); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	if a.tmpFiles(t) != 0 {
		t.Errorf("files left in tmp/")
	}
}

// A connection that dies after the DELEs, before QUIT: the server rolls the
// deletions back. The next run must not deliver those messages again; it
// deletes them.
func TestFakeCutBeforeQuit(t *testing.T) {
	t.Parallel()
	msgs := testMessages(100)
	srv := newFakeServer(t, msgs)
	srv.set(func(s *fakeServer) { s.cutAtQuit = true })
	a := newAccount(t, t.TempDir())
	res, err := Run(context.Background(), a.fakeOptions(srv, nil))
	if failure.KindOf(err) != failure.Temporary {
		t.Fatalf("got %v, want a temporary failure", err)
	}
	if res.Deleted != 0 || res.Delivered != 100 {
		t.Errorf("result %+v", res)
	}
	if n := len(srv.remaining()); n != 100 {
		t.Fatalf("%d on the server, want 100 (rolled back)", n)
	}
	sameMessages(t, a.delivered(t), raws(msgs))

	srv.set(func(s *fakeServer) { s.cutAtQuit = false })
	srv.cmds()
	rec := &recorder{}
	res, err = Run(context.Background(), a.fakeOptions(srv, rec))
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 0 || res.Deleted != 100 {
		t.Errorf("second run %+v", res)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
	if n := len(srv.remaining()); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
	for _, c := range srv.cmds() {
		if strings.HasPrefix(c, "RETR") {
			t.Fatalf("second run fetched again: %s", c)
		}
	}
}

// A message the server refuses is reported and stays; the others go
// through; the run ends Partial.
func TestFakeRetrRefused(t *testing.T) {
	t.Parallel()
	msgs := testMessages(10)
	srv := newFakeServer(t, msgs)
	srv.set(func(s *fakeServer) { s.retrErr = 4 })
	a := newAccount(t, t.TempDir())
	rec := &recorder{}
	res, err := Run(context.Background(), a.fakeOptions(srv, rec))
	if failure.KindOf(err) != failure.Partial {
		t.Fatalf("got %v, want partial", err)
	}
	if res.Delivered != 9 || res.Failed != 1 || res.Deleted != 9 {
		t.Errorf("result %+v", res)
	}
	left := srv.remaining()
	if len(left) != 1 || left[0].UIDL != "uid0003" {
		t.Errorf("left on server: %v", left)
	}
	if ev := rec.of(report.Error); len(ev) != 1 || ev[0].ServerID != "uid0003" {
		t.Errorf("error events %+v", ev)
	}
}

func TestFakeKeepMode(t *testing.T) {
	t.Parallel()
	msgs := testMessages(20)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.Keep = true
	res, err := Run(context.Background(), opt)
	if err != nil || res.Delivered != 20 || res.Deleted != 0 {
		t.Fatalf("first run %+v %v", res, err)
	}
	res, err = Run(context.Background(), opt)
	if err != nil || res.Delivered != 0 {
		t.Fatalf("second run %+v %v", res, err)
	}
	// New mail and a message gone from the server.
	more := testMessages(25)[20:]
	srv.set(func(s *fakeServer) { s.msgs = append(s.msgs[1:], more...) })
	res, err = Run(context.Background(), opt)
	if err != nil || res.Delivered != 5 {
		t.Fatalf("third run %+v %v", res, err)
	}
	sameMessages(t, a.delivered(t), raws(testMessages(25)))
	st, _ := readStateReadOnly(a.stateDir)
	if len(st.entries) != 24 || st.isDone("uid0000") {
		t.Errorf("state keeps %d UIDLs (want 24, without uid0000)", len(st.entries))
	}
	// All fetches everything again.
	opt.All = true
	res, err = Run(context.Background(), opt)
	if err != nil || res.Delivered != 24 {
		t.Fatalf("--all run %+v %v", res, err)
	}
}

func TestFakeDeleteAfter(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	msgs := testMessages(6)
	srv := newFakeServer(t, msgs[:3])
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.now = func() time.Time { return t0 }
	opt.Keep, opt.DeleteAfter = true, 7*24*time.Hour
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	opt.now = func() time.Time { return t0.Add(3 * 24 * time.Hour) }
	srv.set(func(s *fakeServer) { s.msgs = append(s.msgs, msgs[3:]...) })
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 3 || res.Deleted != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	// 8 days after the first run: the first three are due, the others not.
	opt.now = func() time.Time { return t0.Add(8 * 24 * time.Hour) }
	res, err := Run(context.Background(), opt)
	if err != nil || res.Delivered != 0 || res.Deleted != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	left := srv.remaining()
	if len(left) != 3 || left[0].UIDL != "uid0003" {
		t.Errorf("left %v", left)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
}

func TestFakeNoUIDL(t *testing.T) {
	t.Parallel()
	msgs := testMessages(5)
	srv := newFakeServer(t, msgs)
	srv.set(func(s *fakeServer) { s.noUIDL = true })
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.Keep = true
	_, err := Run(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "UIDL") {
		t.Fatalf("keep mode without UIDL: %v", err)
	}
	if len(a.delivered(t)) != 0 {
		t.Fatal("delivered in refused keep mode")
	}
	rec := &recorder{}
	opt = a.fakeOptions(srv, rec)
	res, err := Run(context.Background(), opt)
	if err != nil || res.Delivered != 5 || res.Deleted != 5 {
		t.Fatalf("%+v %v", res, err)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
	if len(rec.of(report.Notice)) == 0 {
		t.Error("no notice about the missing UIDL")
	}
}

func TestFakeMaxSizeAndMessages(t *testing.T) {
	t.Parallel()
	msgs := testMessages(12) // every third has a 4000-byte line
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	rec := &recorder{}
	opt := a.fakeOptions(srv, rec)
	opt.MaxSize = 3500
	opt.MaxMessages = 5
	res, err := Run(context.Background(), opt)
	if err != nil || res.Delivered != 5 || res.Skipped != 4 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, e := range rec.of(report.Skipped) {
		if e.Size <= 3500 || e.ServerID == "" {
			t.Errorf("skipped event %+v", e)
		}
	}
	if n := len(srv.remaining()); n != 7 {
		t.Errorf("%d left, want 7", n)
	}
}

func TestFakeDryRun(t *testing.T) {
	t.Parallel()
	msgs := testMessages(8)
	srv := newFakeServer(t, msgs)
	dir := t.TempDir()
	rec := &recorder{}
	host, port := srv.addr()
	opt := Options{
		Account: "dry", Host: host, Port: port,
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		User:     "alice", Secret: "secret", StateDir: filepath.Join(dir, "state"), DryRun: true, Sink: rec,
	}
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	would := rec.of(report.WouldFetch)
	if len(would) != 8 {
		t.Errorf("%d WouldFetch", len(would))
	}
	// Each is described by its header, from TOP n 0.
	for i, e := range would {
		if e.From != "Ann <ann@example.org>" || e.Subject != fmt.Sprintf("message %d ü", i) || e.MessageID != fmt.Sprintf("m%d@test", i) {
			t.Errorf("would-fetch %d: from %q, subject %q, id %q", i, e.From, e.Subject, e.MessageID)
		}
	}
	if n := len(rec.of(report.WouldDelete)); n != 8 {
		t.Errorf("%d WouldDelete", n)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("dry run wrote %v", ents)
	}
	tops := 0
	for _, c := range srv.cmds() {
		if strings.HasPrefix(c, "RETR") || strings.HasPrefix(c, "DELE") || strings.HasPrefix(c, "TOP") && !strings.HasSuffix(c, " 0") {
			t.Errorf("dry run sent %s", c)
		}
		if strings.HasPrefix(c, "TOP") {
			tops++
		}
	}
	if tops != 8 {
		t.Errorf("%d TOP commands, want 8", tops)
	}
	// A server without TOP: sizes only, and no error.
	srv.set(func(s *fakeServer) { s.noTop = true })
	rec = &recorder{}
	opt.Sink = rec
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	if would := rec.of(report.WouldFetch); len(would) != 8 || would[0].Size == 0 || would[0].Subject != "" {
		t.Errorf("without TOP: %d WouldFetch, first %+v", len(would), would)
	}
	srv.set(func(s *fakeServer) { s.noTop = false })
	if n := len(srv.remaining()); n != 8 {
		t.Errorf("%d left", n)
	}
	// In keep mode a dry run reads the state without changing it.
	a := newAccount(t, t.TempDir())
	kopt := a.fakeOptions(srv, nil)
	kopt.Keep = true
	kopt.MaxMessages = 3
	if _, err := Run(context.Background(), kopt); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(a.stateDir, stateFile))
	rec = &recorder{}
	kopt.DryRun, kopt.Dest, kopt.MaxMessages, kopt.Sink = true, maildir.Destination{}, 0, rec
	if _, err := Run(context.Background(), kopt); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.of(report.WouldFetch)); n != 5 {
		t.Errorf("keep dry run: %d WouldFetch, want 5", n)
	}
	if n := len(rec.of(report.WouldDelete)); n != 0 {
		t.Errorf("keep dry run: %d WouldDelete", n)
	}
	after, _ := os.ReadFile(filepath.Join(a.stateDir, stateFile))
	if string(before) != string(after) {
		t.Error("dry run changed the state")
	}
}

// STARTTLS is required, not opportunistic: a server without STLS gets
// nothing but CAPA.
func TestFakeStartTLSRequired(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(1))
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.Security = transport.Security{Mode: transport.TLSStartTLS, AllowPlaintextAuth: true}
	_, err := Run(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "STLS") {
		t.Fatalf("got %v", err)
	}
	for _, c := range srv.cmds() {
		if c != "CAPA" {
			t.Errorf("sent %q in plain text", c)
		}
	}
}

// Without TLS, credentials are refused unless allowed. "auto" may still
// use APOP (the greeting has a timestamp), which does not show the password
// (transport.Security.CheckAuth).
func TestFakePlaintextRefused(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(1))
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.Security.AllowPlaintextAuth = false
	for _, auth := range []string{"user", "plain", "login", "xoauth2"} {
		opt.Auth = auth
		_, err := Run(context.Background(), opt)
		if failure.KindOf(err) != failure.Usage {
			t.Errorf("auth %q: got %v, want a usage error", auth, err)
		}
	}
	opt.Auth = "auto"
	if _, err := Run(context.Background(), opt); err == nil {
		t.Errorf("auto: logged in")
	}
	for _, c := range srv.cmds() {
		if strings.HasPrefix(c, "USER") || strings.HasPrefix(c, "PASS") || strings.HasPrefix(c, "AUTH") {
			t.Errorf("sent %q", c)
		}
	}
}

func TestFakeAuthFailure(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(1))
	a := newAccount(t, t.TempDir())
	opt := a.fakeOptions(srv, nil)
	opt.Secret = "wrong"
	_, err := Run(context.Background(), opt)
	if failure.KindOf(err) != failure.Auth {
		t.Fatalf("got %v (kind %v)", err, failure.KindOf(err))
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}
}

// A delivery left in doubt (pending without done) is settled by looking
// for its file: found means delivered, missing means fetch again. A file a
// mail reader renamed meanwhile (moved into cur/ with flags, a Maildir++
// field added after the size) is found by the core of its name.
func TestFakeResolvePending(t *testing.T) {
	t.Parallel()
	msgs := testMessages(4)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	// Message 0 made it into new/ before the crash; message 1 did not;
	// message 3 did, and a reader renamed it.
	st, err := a.inbox.Deliver(context.Background(), strings.NewReader(string(msgs[0].Raw)), maildir.StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st3, err := a.inbox.Deliver(context.Background(), strings.NewReader(string(msgs[3].Raw)), maildir.StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(st3.Path(), filepath.Join(a.maildir, "cur", st3.Unique()+",W=9999:2,S")); err != nil {
		t.Fatal(err)
	}
	j, _, err := maildir.OpenJournal(filepath.Join(a.stateDir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	j.Append([]byte("V 1"),
		record{Kind: recPending, UIDL: "uid0000", Unique: st.Unique(), Time: time.Now()}.format(),
		record{Kind: recPending, UIDL: "uid0001", Unique: "1.M1P1Q1R1.gone,S=1", Time: time.Now()}.format(),
		record{Kind: recPending, UIDL: "uid0003", Unique: st3.Unique(), Time: time.Now()}.format())
	j.Sync()
	j.Close()
	srv.cmds()
	res, err := Run(context.Background(), a.fakeOptions(srv, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 2 || res.Deleted != 4 {
		t.Errorf("%+v", res)
	}
	sameMessages(t, a.delivered(t), raws(msgs))
	for _, c := range srv.cmds() {
		if c == "RETR 1" || c == "RETR 4" {
			t.Errorf("a delivered pending message was fetched again: %s", c)
		}
	}
}

// A state with a record that does not parse is refused before the server
// is touched: failure.LocalIO, one line naming the file and the record
// and what to do; nothing fetched, nothing deleted, the state left as it
// is. (Before the ledger, POP3 skipped such records with a notice.)
func TestFakeDamagedState(t *testing.T) {
	t.Parallel()
	msgs := testMessages(3)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	path := filepath.Join(a.stateDir, stateFile)
	j, _, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Append([]byte("V 2"), []byte("D uid0000 1700000000"), []byte("D uid0001 17e8"), []byte("D uid0002 1700000000"))
	j.Close()
	before, _ := os.ReadFile(path)
	for _, dry := range []bool{false, true} {
		opt := a.fakeOptions(srv, nil)
		opt.DryRun = dry
		_, err := Run(context.Background(), opt)
		if failure.KindOf(err) != failure.LocalIO || err == nil ||
			!strings.Contains(err.Error(), path+" is damaged (record 3: ") || !strings.Contains(err.Error(), "move it away") {
			t.Errorf("dry %v: got %v (kind %v)", dry, err, failure.KindOf(err))
		}
	}
	if cmds := srv.cmds(); len(cmds) != 0 {
		t.Errorf("the server was sent %q", cmds)
	}
	if len(a.delivered(t)) != 0 || len(srv.remaining()) != 3 {
		t.Errorf("something was fetched or deleted")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Errorf("the damaged state was changed")
	}
}

// An MDA target: each message goes to the command; one it rejects stays on
// the server.
func TestFakeMDA(t *testing.T) {
	t.Parallel()
	msgs := testMessages(6)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	out := filepath.Join(a.dir, "mda")
	os.Mkdir(out, 0o700)
	opt := a.fakeOptions(srv, nil)
	// Rejects message 2; stores the others one file each.
	opt.Dest = maildir.MDADestination(&maildir.MDA{Command: fmt.Sprintf(`f=$(mktemp %s/m.XXXXXX) && cat > "$f" && if grep -q "^Subject: message 2 " "$f"; then rm "$f"; exit 1; fi`, out)})
	res, err := Run(context.Background(), opt)
	if failure.KindOf(err) != failure.Partial {
		t.Fatalf("got %v", err)
	}
	if res.Delivered != 5 || res.Failed != 1 || res.Deleted != 5 {
		t.Errorf("%+v", res)
	}
	ents, _ := os.ReadDir(out)
	var got [][]byte
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(out, e.Name()))
		got = append(got, b)
	}
	want := raws(append(append([]fakeMsg(nil), msgs[:2]...), msgs[3:]...))
	sameMessages(t, got, want)
	if left := srv.remaining(); len(left) != 1 || left[0].UIDL != "uid0002" {
		t.Errorf("left %v", left)
	}
}

// Check logs in and reports the maildrop.
func TestFakeCheck(t *testing.T) {
	t.Parallel()
	msgs := testMessages(4)
	srv := newFakeServer(t, msgs)
	a := newAccount(t, t.TempDir())
	res, err := Check(context.Background(), a.fakeOptions(srv, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 4 || res.Bytes == 0 || !strings.Contains(strings.Join(res.Capabilities, ","), "UIDL") {
		t.Errorf("%+v", res)
	}
}

// A cancelled run deletes nothing.
func TestFakeCancelled(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(5))
	a := newAccount(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, a.fakeOptions(srv, nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
	if n := len(srv.remaining()); n != 5 {
		t.Errorf("%d left", n)
	}
}

// The trace shows the conversation but never the password.
func TestFakeTrace(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(2))
	a := newAccount(t, t.TempDir())
	var trace strings.Builder
	opt := a.fakeOptions(srv, nil)
	opt.Trace = &trace
	opt.Secret = "secret"
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	out := trace.String()
	if !strings.Contains(out, "RETR 1") || !strings.Contains(out, "QUIT") {
		t.Errorf("trace lacks the conversation:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("trace shows the password:\n%s", out)
	}
}

// A busy maildrop is a temporary failure, a refused login an auth failure.
func TestFakeLoginReplies(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t, testMessages(1))
	a := newAccount(t, t.TempDir())
	for _, tc := range []struct {
		reply string
		kind  failure.Kind
	}{
		{"-ERR [IN-USE] maildrop locked", failure.Temporary},
		{"-ERR [LOGIN-DELAY] wait", failure.Temporary},
		{"-ERR [SYS/TEMP] try later", failure.Temporary},
		{"-ERR [AUTH] no", failure.Auth},
		{"-ERR no", failure.Auth},
	} {
		srv.set(func(s *fakeServer) { s.passReply = tc.reply })
		_, err := Run(context.Background(), a.fakeOptions(srv, nil))
		if failure.KindOf(err) != tc.kind {
			t.Errorf("%q: got %v (kind %v), want %v", tc.reply, err, failure.KindOf(err), tc.kind)
		}
	}
	if n := len(srv.remaining()); n != 1 {
		t.Errorf("%d left", n)
	}
}
