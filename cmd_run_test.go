package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// One `mailfetch run` covers a mixed setup: the POP3 account downloads and
// deletes, the IMAP account syncs and leaves the mail on the server; one
// summary names both with their protocols.
func TestDovecotCLIRun(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "r-pop", "r-imap")
	e := newServerEnv(t, srv)
	e.config(t, e.account("home", "pop3", "r-pop"), e.account("work", "imap", "r-imap"))
	popMsgs, imapMsgs := testMessages("run-pop", 4), testMessages("run-imap", 6)
	mustSeed(t, srv, "r-pop", "INBOX", popMsgs)
	mustSeed(t, srv, "r-imap", "INBOX", imapMsgs)

	stdout, _ := e.wantRun(t, 0, "run", "--json")
	sameMessages(t, e.maildir("home"), raws(popMsgs))
	sameMessages(t, e.maildir("work"), raws(imapMsgs))
	if n := mustCount(t, srv, "r-pop", "INBOX"); n != 0 {
		t.Errorf("POP3: %d messages left on the server", n)
	}
	if n := mustCount(t, srv, "r-imap", "INBOX"); n != len(imapMsgs) {
		t.Errorf("IMAP: %d messages on the server, want %d", n, len(imapMsgs))
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum struct {
		Type      string
		Delivered int
		ExitCode  int `json:"exit_code"`
		Accounts  []struct {
			Account, Protocol string
			Delivered         int
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout)
	}
	if sum.Type != "summary" || sum.Delivered != 10 || sum.ExitCode != 0 || len(sum.Accounts) != 2 ||
		sum.Accounts[0].Account != "home" || sum.Accounts[0].Protocol != "pop3" || sum.Accounts[0].Delivered != 4 ||
		sum.Accounts[1].Account != "work" || sum.Accounts[1].Protocol != "imap" || sum.Accounts[1].Delivered != 6 {
		t.Errorf("summary %+v", sum)
	}

	// --account narrows it; nothing new is no error.
	if stdout, _ := e.wantRun(t, 0, "run", "--account", "work"); !strings.Contains(stdout, "work: no new mail") || strings.Contains(stdout, "home") {
		t.Errorf("run --account work: %q", stdout)
	}
}
