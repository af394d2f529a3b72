package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
)

// The account loop is the one layer that starts and ends an account: the
// engines' own AccountStart and AccountDone (fetch.Run and sync.Run still
// emit them) do not reach the renderer, their folder and message events
// do, and once the account is stopped the errors the stop caused do not.
func TestAccountSinkPassesEngineEvents(t *testing.T) {
	t.Parallel()
	var got []report.Kind
	next := report.SinkFunc(func(e report.Event) { got = append(got, e.Kind) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &accountSink{ctx: ctx, next: next}
	for _, k := range []report.Kind{report.AccountStart, report.FolderStart, report.Delivered, report.Error,
		report.FolderDone, report.AccountDone} {
		s.Emit(report.Event{Kind: k, Account: "a", Err: errors.New("x")})
	}
	cancel()
	s.Emit(report.Event{Kind: report.Error, Account: "a", Err: context.Canceled})
	s.Emit(report.Event{Kind: report.Notice, Account: "a"})
	want := []report.Kind{report.FolderStart, report.Delivered, report.Error, report.FolderDone, report.Notice}
	if !slices.Equal(got, want) {
		t.Errorf("passed %q, want %q", got, want)
	}
}

// What every command that runs accounts shares, against a real Dovecot:
// a dry run writes nothing, a refused login is exit 77 (3 when another
// account is fine), --trace never shows the password.
func TestAccountLoopCLI(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "p-dry", "i-dry", "p-auth", "p-trace", "i-trace")

	t.Run("--dry-run writes nothing", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-dry"), e.account("imap", "imap", "i-dry"))
		msgs := testMessages("dry", 3)
		mustSeed(t, srv, "p-dry", "INBOX", msgs)
		mustSeed(t, srv, "i-dry", "INBOX", msgs[:2])
		mustSeed(t, srv, "i-dry", "Work", msgs[2:])
		// POP3 lists each message by UIDL (UID and UIDVALIDITY in hex) and
		// size: its headers would take a TOP per message.
		uidv, err := srv.UIDValidity("p-dry", "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr := e.wantRun(t, 0, "pop3", "--dry-run")
		if stderr != "" {
			t.Errorf("pop3: stderr %q", stderr)
		}
		for i, m := range msgs {
			uidl := fmt.Sprintf("%08x%08x", i+1, uidv)
			fetch := fmt.Sprintf("pop: would fetch %s (%d B)", uidl, len(dovetest.CRLF(m.Raw)))
			del := fmt.Sprintf("pop: would delete %s on the server\n", uidl)
			if strings.Count(stdout, fetch) != 1 || strings.Count(stdout, del) != 1 {
				t.Errorf("pop3: message %d is not listed as %q and %q:\n%s", i, fetch, del, stdout)
			}
		}
		if n := strings.Count(stdout, "\n"); n != 2*len(msgs) {
			t.Errorf("pop3: %d lines:\n%s", n, stdout)
		}
		// IMAP lists each with its sender and subject (from the ENVELOPE).
		stdout, stderr = e.wantRun(t, 0, "imap", "sync", "-n")
		if stderr != "" {
			t.Errorf("imap: stderr %q", stderr)
		}
		for i := range msgs {
			folder := "INBOX"
			if i >= 2 {
				folder = "Work"
			}
			line := regexp.MustCompile(fmt.Sprintf(`(?m)^imap: %s: would fetch \d+ \(\d+ B\) from Ann Example <ann@example\.com> "dry message %d"$`, folder, i))
			if len(line.FindAllString(stdout, -1)) != 1 {
				t.Errorf("imap: message %d is not listed once as %s:\n%s", i, line, stdout)
			}
		}
		if n := strings.Count(stdout, "\n"); n != len(msgs) {
			t.Errorf("imap: %d lines:\n%s", n, stdout)
		}
		stdout, _ = e.wantRun(t, 0, "pop3", "--dry-run", "--json")
		if n := strings.Count(stdout, `"type":"would-fetch"`); n != len(msgs) {
			t.Errorf("--json: %d would-fetch objects:\n%s", n, stdout)
		}
		if strings.Contains(stdout, `"path"`) || !strings.Contains(stdout, `"dry_run":true`) {
			t.Errorf("--json:\n%s", stdout)
		}
		for _, p := range []string{filepath.Join(e.dir, "Mail"), e.stateHome} {
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a dry run created %s (%q)", p, entries(t, p))
			}
		}
		if n := mustCount(t, srv, "p-dry", "INBOX"); n != len(msgs) {
			t.Errorf("%d messages on the server, want %d", n, len(msgs))
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.pwFile = e.passwordFile(t, "wrong", "not-"+serverPassword)
		e.config(t, e.account("pop", "pop3", "p-auth"), e.account("imap", "imap", "p-auth"))
		mustSeed(t, srv, "p-auth", "INBOX", testMessages("auth", 2))
		for _, args := range [][]string{{"pop3"}, {"imap", "sync"}, {"accounts", "--check", "--account", "imap"}} {
			code, stdout, stderr := e.runCLI(t, args...)
			if code != 77 {
				t.Errorf("%s: exit code %d, want 77; stderr:\n%s", args, code, stderr)
			}
			if args[0] != "accounts" {
				oneErrorLine(t, stderr)
				if stdout != "" {
					t.Errorf("%s: stdout %q", args, stdout)
				}
			} else if !strings.Contains(stdout, "check:     FAILED: ") {
				t.Errorf("%s: stdout:\n%s", args, stdout)
			}
			if strings.Contains(stdout+stderr, serverPassword) {
				t.Errorf("%s: the output shows the password", args)
			}
		}
		if n := mustCount(t, srv, "p-auth", "INBOX"); n != 2 {
			t.Errorf("%d messages on the server, want 2", n)
		}
		// With the other account fine, the failure is partial.
		e.config(t, e.account("bad", "pop3", "p-auth"),
			strings.Replace(e.account("good", "imap", "p-auth"), e.pwFile, e.passwordFile(t, "right", serverPassword), 1))
		if code, _, stderr := e.runCLI(t, "accounts", "--check"); code != 3 {
			t.Errorf("one of two accounts failing: exit code %d, want 3; stderr:\n%s", code, stderr)
		}
	})

	t.Run("--trace never shows the password", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		mustSeed(t, srv, "p-trace", "INBOX", testMessages("trace", 2))
		mustSeed(t, srv, "i-trace", "INBOX", testMessages("trace", 2))
		// Every way the password could travel: as it is (USER/PASS,
		// LOGIN), base64 alone (AUTH LOGIN) and in SASL PLAIN's response.
		secrets := []string{serverPassword, base64.StdEncoding.EncodeToString([]byte(serverPassword))}
		for _, user := range []string{"p-trace", "i-trace"} {
			for _, authz := range []string{"", user} {
				secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(authz+"\x00"+user+"\x00"+serverPassword)))
			}
		}
		e.config(t, e.account("pop", "pop3", "p-trace"), e.account("imap", "imap", "i-trace"))
		runs := [][]string{{"accounts", "--check", "--trace"}}
		// Every mechanism each side offers, forced with --auth.
		for _, auth := range []string{"auto", "user", "plain", "login", "cram-md5", "apop"} {
			runs = append(runs, []string{"pop3", "--trace", "--keep", "--auth", auth})
		}
		for _, auth := range []string{"auto", "plain", "login", "cram-md5"} {
			runs = append(runs, []string{"imap", "sync", "--trace", "--auth", auth})
		}
		for _, args := range runs {
			stdout, stderr := e.wantRun(t, 0, args...)
			if !strings.Contains(stderr, "C: ") || !strings.Contains(stderr, "S: ") || !strings.Contains(stderr, "<redacted>") {
				t.Errorf("%s: no transcript with a redacted credential on stderr:\n%s", args, stderr)
			}
			for _, s := range secrets {
				if strings.Contains(stdout+stderr, s) {
					t.Errorf("%s: the output shows %q:\n%s", args, s, stderr)
				}
			}
		}
		if t.Failed() {
			return
		}
		// Shown for the record, and to see what a transcript looks like.
		_, stderr := e.wantRun(t, 0, "pop3", "--trace", "--auth", "plain")
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "<redacted>") {
				t.Logf("pop3 transcript: %s", line)
			}
		}
	})
}
