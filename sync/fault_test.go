package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// fakeBodies returns n small messages with CRLF line ends.
func fakeBodies(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, []byte(fmt.Sprintf("Message-ID: <fake%d@example.org>\r\nSubject: fake %d\r\n\r\nbody %d\r\nline two\r\n", i, i, i)))
	}
	return out
}

// fakeRun syncs the fake server's INBOX into root.
func fakeRun(t *testing.T, f *fakeServer, root, state string) (Result, *eventLog, error) {
	t.Helper()
	st, err := maildir.Open(root, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{
		Account: "fake", Host: "127.0.0.1", Port: f.port(),
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		User:     "u", Secret: "p", Auth: "login",
		Store: st, StateDir: state, Sink: log,
	})
	return res, log, err
}

func countLocal(t *testing.T, dir string) int {
	t.Helper()
	entries, err := scanReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// A FETCH response without its UID: that message is not lost, the run
// says so, and the next run fetches it.
func TestMissingUID(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(5))
	f.omitUID[3] = true
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")

	res, log, err := fakeRun(t, f, root, state)
	if err == nil {
		t.Fatalf("Run succeeded with a UID missing: %+v", res)
	}
	if res.Delivered != 4 {
		t.Errorf("delivered %d, want the 4 with a UID", res.Delivered)
	}
	errs := log.kind(report.Error)
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "UIDs 3") {
		t.Errorf("error events %v, want one naming UID 3", errs)
	}

	f.mu.Lock()
	delete(f.omitUID, 3)
	f.mu.Unlock()
	if res, _, err = fakeRun(t, f, root, state); err != nil || res.Delivered != 1 {
		t.Fatalf("after the fault: %+v, %v; want UID 3 delivered", res, err)
	}
	if n := countLocal(t, root); n != 5 {
		t.Errorf("%d local messages, want 5", n)
	}
}

// An empty folder, and a folder with nothing new, send no command with a
// UID set: go-imap's encoder would fail on an empty one and tear the
// connection down.
func TestEmptySetGuard(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if _, _, err := fakeRun(t, f, root, state); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"UID FETCH", "UID STORE"} {
		if f.sawCommand(c) {
			t.Errorf("empty folder: %s sent", c)
		}
	}
	// UID SEARCH ALL goes out with the SELECT; it carries no set.
	f.mu.Lock()
	for _, c := range f.commands {
		if strings.HasPrefix(c, "UID SEARCH") && !strings.HasSuffix(c, " ALL") {
			t.Errorf("empty folder: %q sent", c)
		}
	}
	f.mu.Unlock()
	// The set helpers themselves: imapconn's TestEmptySetGuard.
}

// OAuth2 mechanisms, each checked against the capability before use.
func TestOAuth2(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(1))
	f.token = "tok3n"
	for _, c := range []struct {
		auth, token string
		ok          bool
	}{
		{"xoauth2", "tok3n", true},
		{"oauthbearer", "tok3n", true},
		{"xoauth2", "expired", false},
		{"oauthbearer", "expired", false},
		{"login", "tok3n", false}, // LOGINDISABLED: refused before sending
		{"plain", "tok3n", false}, // not offered: refused before sending
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Check(ctx, Options{
			Host: "127.0.0.1", Port: f.port(),
			Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
			User:     "u", Secret: c.token, Auth: c.auth,
		})
		cancel()
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.auth, err)
		case !c.ok && failure.KindOf(err) != failure.Auth:
			t.Errorf("%s with %s: %v, want an auth failure", c.auth, c.token, err)
		}
		if err != nil && strings.Contains(err.Error(), c.token) {
			t.Errorf("%s: the token shows in %v", c.auth, err)
		}
	}
	if f.sawCommand("LOGIN") || f.sawCommand("AUTHENTICATE PLAIN") {
		t.Error("a mechanism the server does not offer was sent")
	}
}

// UID SEARCH ALL goes out with the SELECT (one round trip for both); when
// the SELECT fails the SEARCH's error is not mistaken for the cause, and
// the folder is synced by the next run.
func TestSearchWithSelect(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(6))
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	f.mu.Lock()
	f.holdSelect, f.selectFails = true, true
	f.mu.Unlock()
	_, log, err := fakeRun(t, f, root, state)
	if err == nil || !strings.Contains(err.Error(), "SELECT") || strings.Contains(err.Error(), "SEARCH") {
		t.Errorf("failed SELECT: %v", err)
	}
	if n := len(log.kind(report.Error)); n != 1 {
		t.Errorf("%d error events, want 1", n)
	}
	f.mu.Lock()
	f.selectFails = false
	f.mu.Unlock()
	res, _, err := fakeRun(t, f, root, state)
	if err != nil || res.Delivered != 6 {
		t.Fatalf("after the failed SELECT: %+v, %v", res, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.selectNotPipelined {
		t.Error("the client waited for SELECT's reply before it sent the UID SEARCH")
	}
}
