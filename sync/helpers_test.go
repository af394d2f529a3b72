package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// fsUser has Dovecot's LAYOUT=fs: '/' as delimiter, dots allowed in names.
var fsUser = dovetest.User{Name: "fsuser", Password: "fspass", MailLocation: "maildir:~/Maildir:LAYOUT=fs"}

// ppUser has the default Maildir++ layout: '.' as delimiter.
var ppUser = dovetest.User{Name: "ppuser", Password: "pppass"}

// eventLog is a Sink that keeps every event.
type eventLog struct {
	mu     gosync.Mutex
	events []report.Event
}

func (l *eventLog) Emit(e report.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []report.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *eventLog) kind(k report.Kind) []report.Event {
	var out []report.Event
	for _, e := range l.all() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// changes returns the events that mean something was (or would be) done.
func (l *eventLog) changes() []report.Event {
	var out []report.Event
	for _, e := range l.all() {
		switch e.Kind {
		case report.Delivered, report.WouldFetch, report.Deleted, report.WouldDelete, report.FlagsChanged, report.Error:
			out = append(out, e)
		}
	}
	return out
}

// testEnv is a Dovecot account and a local Maildir to sync it into.
type testEnv struct {
	t        testing.TB
	srv      *dovetest.Server
	user     dovetest.User
	root     string
	layout   maildir.Layout
	stateDir string
}

func newEnv(t *testing.T, srv *dovetest.Server, user dovetest.User, layout maildir.Layout) *testEnv {
	dir := t.TempDir()
	return &testEnv{t: t, srv: srv, user: user, root: filepath.Join(dir, "Mail"), layout: layout, stateDir: filepath.Join(dir, "state")}
}

func (e *testEnv) store() *maildir.Store {
	e.t.Helper()
	st, err := maildir.Open(e.root, e.layout)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// options are Options for the plain port, credentials allowed in clear.
func (e *testEnv) options(sink report.Sink) Options {
	opt := e.serverOptions(sink)
	opt.Store = e.store()
	return opt
}

// serverOptions are options without a local store.
func (e *testEnv) serverOptions(sink report.Sink) Options {
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	opt := Options{
		Account: "test", Host: e.srv.Host, Port: e.srv.IMAPPort,
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		Timeouts: transport.Timeouts{IO: 30 * time.Second},
		User:     e.user.Name, Secret: e.user.Password,
		StateDir: e.stateDir, Sink: sink,
	}
	return opt
}

// dryOptions are options for a dry run that reads the Maildir without
// creating it, as the CLI gives them.
func (e *testEnv) dryOptions(sink report.Sink) Options {
	e.t.Helper()
	opt := e.serverOptions(nil)
	view, err := maildir.OpenView(e.root, e.layout)
	if err != nil {
		e.t.Fatal(err)
	}
	opt.Store, opt.DryRun, opt.Sink = view, true, sink
	return opt
}

// run syncs with opt changed by mod, and returns the result and events.
func (e *testEnv) run(mod func(*Options)) (Result, *eventLog, error) {
	e.t.Helper()
	log := &eventLog{}
	opt := e.options(log)
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, opt)
	return res, log, err
}

// mustRun syncs and fails the test on an error or an Error event.
func (e *testEnv) mustRun(mod func(*Options)) (Result, *eventLog) {
	e.t.Helper()
	res, log, err := e.run(mod)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	for _, ev := range log.kind(report.Error) {
		e.t.Errorf("error event: %s: %v", ev.Folder, ev.Err)
	}
	return res, log
}

// localDir is the local directory of a server folder (path elements).
func (e *testEnv) localDir(path ...string) string {
	e.t.Helper()
	dir, err := e.store().FolderDir(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// localMessages reads every message file of a local folder.
func localMessages(t testing.TB, dir string) map[string]localMsg {
	t.Helper()
	entries, err := scanReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]localMsg{}
	for _, e := range entries {
		b, err := os.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Path] = localMsg{raw: b, flags: synced(e.Flags), entry: e}
	}
	return out
}

type localMsg struct {
	raw   []byte
	flags maildir.Flags
	entry maildir.Entry
}

// toLF is what a local copy of a message served with CRLF holds.
func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// serverFlags maps the IMAP flags dovetest reports to synced Maildir flags.
func serverFlagsOf(flags []string) maildir.Flags {
	var b []byte
	for _, f := range flags {
		switch strings.ToLower(f) {
		case `\seen`:
			b = append(b, 'S')
		case `\answered`:
			b = append(b, 'R')
		case `\flagged`:
			b = append(b, 'F')
		case `\deleted`:
			b = append(b, 'T')
		case `\draft`:
			b = append(b, 'D')
		}
	}
	return maildir.ParseFlags(string(b))
}

// verifyMirror checks that the local folder holds each message of the
// server folder exactly once, byte for byte (LF), with the server's flags.
func (e *testEnv) verifyMirror(name string, path ...string) {
	e.t.Helper()
	e.verifyMirrorExcept(name, nil, path...)
}

// verifyMirrorExcept is verifyMirror for all messages but the UIDs in
// skip, which must have no local copy.
func (e *testEnv) verifyMirrorExcept(name string, skip map[uint32]bool, path ...string) {
	t := e.t
	t.Helper()
	raws, err := e.srv.FetchRaw(e.user.Name, name)
	if err != nil {
		t.Fatal(err)
	}
	flags, err := e.srv.Flags(e.user.Name, name)
	if err != nil {
		t.Fatal(err)
	}
	local := localMessages(t, e.localDir(path...))
	byContent := map[string][]localMsg{}
	for _, m := range local {
		byContent[string(m.raw)] = append(byContent[string(m.raw)], m)
	}
	for uid, raw := range raws {
		key := string(toLF(raw))
		if skip[uid] {
			if len(byContent[key]) > 0 {
				t.Errorf("%s: UID %d has a local copy", name, uid)
			}
			delete(raws, uid)
			continue
		}
		list := byContent[key]
		if len(list) == 0 {
			t.Errorf("%s: UID %d: no local copy", name, uid)
			continue
		}
		m := list[0]
		byContent[key] = list[1:]
		if want := serverFlagsOf(flags[uid]); m.flags != want {
			t.Errorf("%s: UID %d: local flags %q, server %q (%v)", name, uid, m.flags, want, flags[uid])
		}
	}
	for _, list := range byContent {
		for _, m := range list {
			t.Errorf("%s: local file %s is not on the server (or a duplicate)", name, m.entry.Path)
		}
	}
	if len(local) != len(raws) {
		t.Errorf("%s: %d local messages, %d on the server", name, len(local), len(raws))
	}
}

// localFileOf returns the local file of a server message.
func (e *testEnv) localFileOf(name string, uid uint32, path ...string) localMsg {
	e.t.Helper()
	raws, err := e.srv.FetchRaw(e.user.Name, name)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, ok := raws[uid]
	if !ok {
		e.t.Fatalf("%s: no UID %d on the server", name, uid)
	}
	for _, m := range localMessages(e.t, e.localDir(path...)) {
		if bytes.Equal(m.raw, toLF(raw)) {
			return m
		}
	}
	e.t.Fatalf("%s: UID %d has no local copy", name, uid)
	return localMsg{}
}

// setLocalFlags renames a local message file as a mail reader does: into
// cur/ with the flags.
func setLocalFlags(t *testing.T, m localMsg, flags string) {
	t.Helper()
	dir := filepath.Dir(filepath.Dir(m.entry.Path))
	dest := filepath.Join(dir, "cur", m.entry.Unique+":2,"+flags)
	if err := os.Rename(m.entry.Path, dest); err != nil {
		t.Fatal(err)
	}
}

// treeDigest describes every file under dir (path, size, content hash),
// to check that a dry run wrote nothing.
func treeDigest(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				b.WriteString(p + "/\n")
				return nil
			}
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s %d %x\n", p, len(c), sha256.Sum256(c))
			return nil
		})
	}
	return b.String()
}
