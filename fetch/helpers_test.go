package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []report.Event
}

func (r *recorder) Emit(e report.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) of(k report.Kind) []report.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []report.Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// account is the local side of a test account: a Maildir and a state dir.
type account struct {
	dir      string
	maildir  string
	stateDir string
	inbox    *maildir.Folder
	dest     maildir.Destination // the store of inbox, as the CLI gives it
}

func newAccount(t testing.TB, dir string) *account {
	t.Helper()
	a := &account{dir: dir, maildir: filepath.Join(dir, "Maildir"), stateDir: filepath.Join(dir, "state")}
	store, err := maildir.Open(a.maildir, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	if a.inbox, err = store.Folder(nil); err != nil {
		t.Fatal(err)
	}
	a.dest = maildir.StoreDestination(store)
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return a
}

// options for a run against the fake server (plain text, password allowed).
func (a *account) fakeOptions(s *fakeServer, sink report.Sink) Options {
	host, port := s.addr()
	return Options{
		Account: "test", Host: host, Port: port,
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		User:     "alice", Secret: "secret",
		Dest: a.dest, StateDir: a.stateDir, Sink: sink,
	}
}

// delivered returns the contents of every message file in new/ and cur/.
func (a *account) delivered(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(a.maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(a.maildir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// tmpFiles counts files left in tmp/.
func (a *account) tmpFiles(t testing.TB) int {
	ents, err := os.ReadDir(filepath.Join(a.maildir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// sameMessages checks that got holds each of want exactly as many times as
// want does (once, unless want repeats it) and nothing else, comparing
// bytes.
func sameMessages(t testing.TB, got, want [][]byte) {
	t.Helper()
	count := map[string]int{}
	for _, w := range want {
		count[string(w)]++
	}
	var extra, dup []string
	for _, g := range got {
		c, wanted := count[string(g)]
		switch {
		case !wanted:
			extra = append(extra, firstLine(g))
		case c <= 0:
			dup = append(dup, firstLine(g))
		}
		if wanted {
			count[string(g)]--
		}
	}
	var missing []string
	for w, c := range count {
		if c > 0 {
			missing = append(missing, firstLine([]byte(w)))
		}
	}
	sort.Strings(missing)
	if len(missing)+len(extra)+len(dup) > 0 {
		t.Fatalf("Maildir has %d messages, want %d: %d missing %.5q, %d duplicated %.5q, %d unexpected (or altered) %.5q",
			len(got), len(want), len(missing), missing, len(dup), dup, len(extra), extra)
	}
}

// firstLine names a message in failures: its Message-ID, else its Subject,
// else its first line.
func firstLine(b []byte) string {
	subject := ""
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) == 0 {
			break
		}
		if bytes.HasPrefix(bytes.ToLower(l), []byte("message-id:")) {
			return strings.TrimSpace(string(l[11:]))
		}
		if bytes.HasPrefix(bytes.ToLower(l), []byte("subject:")) && subject == "" {
			subject = strings.TrimSpace(string(l))
		}
	}
	if subject != "" {
		return subject
	}
	l, _, _ := bytes.Cut(b, []byte("\n"))
	return string(l)
}

// testMessages makes n small messages with the bytes that test the wire:
// lines starting with '.', a lone ".", 8-bit text, a long line, a bare CR.
func testMessages(n int) []fakeMsg {
	msgs := make([]fakeMsg, n)
	for i := range msgs {
		var b bytes.Buffer
		fmt.Fprintf(&b, "Message-ID: <m%d@test>\nFrom: Ann <ann@example.org>\nSubject: message %d ü\n\n", i, i)
		fmt.Fprintf(&b, "Body of %d.\n.starts with a dot\n.\n..two dots\nbare\rCR\n%s\n", i, strings.Repeat("x", 100+i*37%3000))
		if i%3 == 0 {
			b.WriteString(strings.Repeat("long line ", 400) + "\n")
		}
		msgs[i] = fakeMsg{UIDL: fmt.Sprintf("uid%04d", i), Raw: b.Bytes()}
	}
	return msgs
}

func raws(msgs []fakeMsg) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Raw
	}
	return out
}

// dovecotUsers are the harness users of the Dovecot-backed tests, one
// (or a few) per test: the tests share one server and run in parallel,
// each on mailboxes of its own.
var dovecotUsers = []string{
	"tls", "starttls", "nopipe", "keep", "authfail", "crash", "large", "wrongport",
	"fullbig", "fullsmall", "fullkeep", "bindnew", "bindsecond", "bindv1", "bindlostquit",
}

// shared is the Dovecot that the package's tests share, started by the
// first test that asks for it and stopped by TestMain.
var shared struct {
	once sync.Once
	srv  *dovetest.Server
	err  error
}

// dovecot returns the shared Dovecot for a test that uses the harness
// users users, starting it once, with their INBOXes empty (go test
// -count=N runs a test again on the same server). Like dovetest.Start, it
// skips the test when Dovecot is not installed, unless
// dovetest.RequireServerEnv is 1.
func dovecot(t *testing.T, users ...string) *dovetest.Server {
	t.Helper()
	for _, u := range users {
		if !slices.Contains(dovecotUsers, u) {
			t.Fatalf("harness user %q is not in dovecotUsers", u)
		}
	}
	shared.once.Do(func() {
		var us []dovetest.User
		for _, u := range dovecotUsers {
			us = append(us, dovetest.User{Name: u, Password: "secret"})
		}
		shared.srv, shared.err = dovetest.StartServer(dovetest.Options{Users: us})
	})
	switch {
	case errors.Is(shared.err, dovetest.ErrNotInstalled) && os.Getenv(dovetest.RequireServerEnv) != "1":
		t.Skipf("%v", shared.err)
	case shared.err != nil:
		t.Fatalf("%v", shared.err)
	}
	for _, u := range users {
		if _, err := shared.srv.Doveadm("expunge", "-u", u, "mailbox", "INBOX", "all"); err != nil {
			if n, cerr := shared.srv.Count(u, "INBOX"); cerr != nil || n != 0 {
				t.Fatalf("emptying the INBOX of %s: %v", u, err)
			}
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the shared Dovecot logs to %s", shared.srv.LogFile)
		}
	})
	return shared.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
