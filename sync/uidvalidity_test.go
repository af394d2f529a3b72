package sync

import (
	"os"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// uidvalidityMessages are generated messages plus two without a
// Message-ID (re-matched by content) that are otherwise alike.
func uidvalidityMessages() []dovetest.Message {
	msgs := dovetest.Generate(21, 30)
	for i := range msgs {
		msgs[i].Flags = map[int]string{0: "S", 1: "FS", 2: "R"}[i]
	}
	for _, body := range []string{"first", "second"} {
		msgs = append(msgs, dovetest.Message{Raw: []byte("From: a@example.org\nSubject: no id\n\n" + body + " body\n")})
	}
	return msgs
}

// A folder recreated with the same messages (new UIDVALIDITY, new UIDs):
// nothing is downloaded again, nothing lost, and the user is told.
func TestUIDValidityReset(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	msgs := uidvalidityMessages()
	if err := srv.Seed(u, "Box", msgs); err != nil {
		t.Fatal(err)
	}
	old, err := srv.UIDValidity(u, "Box")
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	if res, _ := env.mustRun(nil); res.Delivered != len(msgs) {
		t.Fatalf("initial sync: %+v", res)
	}
	// A local change made before the reset is kept: flags merge as a union.
	setLocalFlags(t, env.localFileOf("Box", 4, "Box"), "F")

	if err := srv.DeleteMailbox(u, "Box"); err != nil {
		t.Fatal(err)
	}
	extra := dovetest.Generate(22, 1)
	if err := srv.Seed(u, "Box", append(msgs, extra...)); err != nil {
		t.Fatal(err)
	}
	if v, _ := srv.UIDValidity(u, "Box"); v == old {
		if err := srv.SetUIDValidity(u, "Box", old+1); err != nil {
			t.Fatal(err)
		}
	}

	res, log := env.mustRun(nil)
	if res.Delivered != 1 {
		t.Errorf("delivered %d after the reset, want only the 1 new message", res.Delivered)
	}
	notices := log.kind(report.Notice)
	if len(notices) != 1 || !strings.Contains(notices[0].Text, "UIDVALIDITY changed") ||
		!strings.Contains(notices[0].Text, "re-matched 30") || !strings.Contains(notices[0].Text, "2 by content") {
		t.Errorf("notices %v", notices)
	}
	env.verifyMirror("Box", "Box")
	if f := serverFlagsNow(t, srv, u, "Box")[4]; f != "F" {
		t.Errorf("UID 4 (the local change) on the server: %q, want F", f)
	}
	res, log = env.mustRun(nil)
	for _, e := range log.changes() {
		t.Errorf("second run: %s %s %s", e.Kind, e.ServerID, e.Text)
	}
	if res.Delivered != 0 {
		t.Errorf("second run: %+v", res)
	}
}

// With its state lost, a folder is rebuilt from the Maildir: nothing is
// fetched twice.
func TestStateLost(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	msgs := uidvalidityMessages()
	if err := srv.Seed(user.Name, "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutMaildirPP)
	env.mustRun(nil)
	if err := os.RemoveAll(env.stateDir); err != nil {
		t.Fatal(err)
	}
	res, log := env.mustRun(nil)
	if res.Delivered != 0 {
		t.Errorf("delivered %d with the state lost", res.Delivered)
	}
	if n := log.kind(report.Notice); len(n) != 1 || !strings.Contains(n[0].Text, "no state") {
		t.Errorf("notices %v", n)
	}
	env.verifyMirror("INBOX")
	if _, log = env.mustRun(nil); len(log.changes()) != 0 {
		t.Errorf("third run: %v", log.changes())
	}
}
