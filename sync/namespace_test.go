package sync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// courier is a Dovecot with Courier's personal namespace: prefix "INBOX."
// and separator ".".
var courier = dovetest.Options{NamespacePrefix: "INBOX.", NamespaceSeparator: ".", Users: []dovetest.User{ppUser}}

// dovecotCapsWithoutNamespace is what Dovecot 2.3 announces after login,
// without NAMESPACE: how an older mailfetch saw a Courier-like server.
const dovecotCapsWithoutNamespace = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"

func seedCourier(t *testing.T, srv *dovetest.Server) {
	t.Helper()
	for _, s := range []struct {
		name string
		seed int64
		n    int
	}{{"INBOX", 71, 3}, {"INBOX.Archive", 72, 2}, {"INBOX.Archive.2024", 73, 2}} {
		if err := srv.Seed(ppUser.Name, s.name, dovetest.Generate(s.seed, s.n)); err != nil {
			t.Fatal(err)
		}
	}
}

// localDirs lists the directories under root, relative, sorted.
func localDirs(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == root {
			return nil
		}
		switch d.Name() {
		case "new", "cur", "tmp":
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	return out
}

// The personal namespace's prefix is taken off local names, as mbsync's
// "Path INBOX." does: server "INBOX.Archive" is local "Archive", INBOX
// stays INBOX, and with the fs layout there is no stray "INBOX/" Maildir.
// Patterns name folders without the prefix.
func TestNamespacePrefix(t *testing.T) {
	t.Parallel()
	srv := dovetest.Start(t, courier)
	seedCourier(t, srv)
	for _, c := range []struct {
		layout maildir.Layout
		dirs   string
	}{
		{maildir.LayoutMaildirPP, ".Archive .Archive.2024"},
		{maildir.LayoutFS, "Archive Archive/2024"},
	} {
		env := newEnv(t, srv, ppUser, c.layout)
		env.mustRun(nil)
		env.verifyMirror("INBOX")
		env.verifyMirror("INBOX.Archive.2024", "Archive", "2024")
		if got := strings.Join(localDirs(t, env.root), " "); got != c.dirs {
			t.Errorf("layout %v: local folders %q, want %q", c.layout, got, c.dirs)
		}
		if res, _ := env.mustRun(nil); res.Delivered != 0 {
			t.Errorf("layout %v: second run delivered %d", c.layout, res.Delivered)
		}
	}

	env := newEnv(t, srv, ppUser, maildir.LayoutMaildirPP)
	env.mustRun(func(o *Options) { o.Patterns = []string{"INBOX", "Archive/*"} })
	env.verifyMirror("INBOX.Archive.2024", "Archive", "2024")
	if got := strings.Join(localDirs(t, env.root), " "); got != ".Archive.2024" {
		t.Errorf("patterns INBOX, Archive/*: local folders %q", got)
	}
}

// An account synced before NAMESPACE was read keeps its local names: an
// existing ".INBOX.Archive" (or "INBOX/Archive" with the fs layout) goes
// on receiving that folder's mail, nothing is fetched twice, and no
// folder without the prefix appears next to it.
func TestNamespaceKeepsOldNames(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	dir := filepath.Join(top, "dovecot")
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	old := courier
	old.Dir, old.IMAPCapability = dir, dovecotCapsWithoutNamespace
	srv := dovetest.Start(t, old)
	seedCourier(t, srv)
	pp := newEnv(t, srv, ppUser, maildir.LayoutMaildirPP)
	fs := newEnv(t, srv, ppUser, maildir.LayoutFS)
	pp.mustRun(nil)
	fs.mustRun(nil)
	for _, c := range []struct {
		env  *testEnv
		dirs string
	}{
		{pp, ".INBOX.Archive .INBOX.Archive.2024"},
		{fs, "INBOX INBOX/Archive INBOX/Archive/2024"},
	} {
		if got := strings.Join(localDirs(t, c.env.root), " "); got != c.dirs {
			t.Fatalf("without NAMESPACE: local folders %q, want %q", got, c.dirs)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	now := courier
	now.Dir = dir
	srv = dovetest.Start(t, now)
	pp.srv, fs.srv = srv, srv
	if err := srv.Seed(ppUser.Name, "INBOX.Archive", dovetest.Generate(74, 1)); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateMailbox(ppUser.Name, "INBOX.Later"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  *testEnv
		dirs string
	}{
		{pp, ".INBOX.Archive .INBOX.Archive.2024 .INBOX.Later"},
		{fs, "INBOX INBOX/Archive INBOX/Archive/2024 INBOX/Later"},
	} {
		res, _ := c.env.mustRun(nil)
		if res.Delivered != 1 {
			t.Errorf("layout %v: delivered %d, want the one new message", c.env.layout, res.Delivered)
		}
		c.env.verifyMirror("INBOX.Archive", "INBOX", "Archive")
		c.env.verifyMirror("INBOX.Archive.2024", "INBOX", "Archive", "2024")
		if got := strings.Join(localDirs(t, c.env.root), " "); got != c.dirs {
			t.Errorf("layout %v: local folders %q, want %q", c.env.layout, got, c.dirs)
		}
	}
}

// IMAP pointed at the POP3 ports of a real server, with each TLS mode: a
// protocol error (exit 76) naming POP3 and IMAP's ports.
func TestWrongPortDovecot(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, ppUser)
	for _, c := range []struct {
		name string
		port int
		mode transport.TLSMode
	}{
		{"POP3S, implicit TLS", srv.POP3SPort, transport.TLSImplicit},
		{"POP3, plain", srv.POP3Port, transport.TLSNone},
		{"POP3, STARTTLS", srv.POP3Port, transport.TLSStartTLS},
		{"POP3, implicit TLS", srv.POP3Port, transport.TLSImplicit},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Check(ctx, Options{Host: srv.Host, Port: c.port, User: user.Name, Secret: user.Password,
			Security: transport.Security{Mode: c.mode, CAFile: srv.CAFile, AllowPlaintextAuth: true}})
		cancel()
		if failure.KindOf(err) != failure.Protocol || !strings.Contains(err2s(err), "answered like a POP3 server") || !strings.Contains(err2s(err), "993") {
			t.Errorf("%s: %v (%v), want a protocol error naming POP3", c.name, err, failure.KindOf(err))
		}
	}
}

// A folder under the namespace prefix that vanished from the server is
// matched by the patterns as it was while listed: by its path without the
// prefix. (The notice used to be matched against "INBOX/Old", so a
// pattern "Old" that synced the folder never reported it gone.)
func TestVanishedFolderUnderPrefix(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(1))
	f.caps = "NAMESPACE"
	f.namespace = `(("INBOX/" "/")) NIL NIL`
	f.addFolder(`"INBOX/Old"`, []string{"INBOX/Old"}, fakeBodies(2))
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	pats := func(o *Options) { o.Patterns = []string{"INBOX", "Old"} }
	if res, _, err := fakeRunWith(t, f, root, state, pats); err != nil || res.Delivered != 3 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	if n := countLocal(t, filepath.Join(root, ".Old")); n != 2 {
		t.Fatalf("INBOX/Old is not synced into .Old: %d messages", n)
	}
	f.mu.Lock()
	f.folders = nil
	f.mu.Unlock()
	_, log, err := fakeRunWith(t, f, root, state, pats)
	if err != nil {
		t.Fatal(err)
	}
	assertNotice(t, log, "INBOX/Old", "no longer exists on the server")
	if n := countLocal(t, filepath.Join(root, ".Old")); n != 2 {
		t.Errorf("the local copy of the vanished folder has %d messages, want 2", n)
	}
}
