package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mailfetch pop3 against a real Dovecot: configs as a user writes them,
// runs through run().
func TestPOP3CLI(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "p-flow", "p-json", "p-quiet", "p-wait")

	t.Run("pop3 delivers, deletes, then has no new mail", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-flow"))
		msgs := testMessages("flow", 5)
		mustSeed(t, srv, "p-flow", "INBOX", msgs)
		stdout, stderr := e.wantRun(t, 0, "pop3")
		if !strings.HasPrefix(stdout, "pop: 5 new (") || !strings.HasSuffix(stdout, "), 5 deleted on the server\n") {
			t.Errorf("stdout: %q", stdout)
		}
		if stderr != "" {
			t.Errorf("stderr: %q", stderr)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
		if n := mustCount(t, srv, "p-flow", "INBOX"); n != 0 {
			t.Errorf("%d messages left on the server", n)
		}
		if stdout, stderr := e.wantRun(t, 0, "pop3"); stdout != "pop: no new mail\n" || stderr != "" {
			t.Errorf("second run: stdout %q, stderr %q", stdout, stderr)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
	})

	t.Run("pop3 --json", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-json"))
		msgs := testMessages("json", 3)
		mustSeed(t, srv, "p-json", "INBOX", msgs)
		stdout, stderr := e.wantRun(t, 0, "pop3", "--json")
		if stderr != "" {
			t.Errorf("stderr: %q", stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		byRaw := map[string]int{}
		for i, m := range msgs {
			byRaw[string(m.Raw)] = i
		}
		seen := map[int]bool{}
		for k, line := range lines {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("line %d is not JSON: %v\n%s", k+1, err, line)
			}
			switch typ := obj["type"]; {
			case typ == "message":
				for _, f := range []string{"account", "protocol", "folder", "id", "path", "size", "message_id", "from", "subject"} {
					if v, ok := obj[f]; !ok || v == "" || v == 0.0 {
						t.Errorf("message without %s: %s", f, line)
					}
				}
				path, _ := obj["path"].(string)
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("path: %v", err)
					continue
				}
				i, ok := byRaw[string(raw)]
				if !ok || seen[i] {
					t.Errorf("%s is not one of the seeded messages, or twice", path)
					continue
				}
				seen[i] = true
				want := map[string]any{
					"account": "pop", "protocol": "pop3", "folder": "INBOX", "size": float64(len(raw)),
					// Without the angle brackets (maildir.Header), although
					// README's example shows "<abc@example.com>".
					"message_id": fmt.Sprintf("%d.json@example.net", i),
					"from":       "Ann Example <ann@example.com>",
					"subject":    fmt.Sprintf("json message %d", i),
					"date":       fmt.Sprintf("2026-11-25T10:%02d:00Z", i),
				}
				for f, w := range want {
					if obj[f] != w {
						t.Errorf("%s is %v, want %v: %s", f, obj[f], w, line)
					}
				}
				if !strings.HasPrefix(path, e.maildir("pop")+"/new/") {
					t.Errorf("path %s is not in the Maildir's new/", path)
				}
			case typ == "deleted":
				if obj["side"] != "server" || obj["account"] != "pop" || obj["id"] == "" {
					t.Errorf("deleted: %s", line)
				}
			case typ == "summary":
				if k != len(lines)-1 {
					t.Errorf("summary on line %d of %d", k+1, len(lines))
				}
				if obj["exit_code"] != 0.0 || obj["delivered"] != 3.0 || obj["deleted"] != 3.0 || obj["errors"] != 0.0 {
					t.Errorf("summary: %s", line)
				}
				accounts, _ := obj["accounts"].([]any)
				if len(accounts) != 1 || accounts[0].(map[string]any)["account"] != "pop" {
					t.Errorf("summary accounts: %s", line)
				}
			default:
				t.Errorf("unexpected object: %s", line)
			}
		}
		if len(seen) != len(msgs) {
			t.Errorf("%d message objects for %d messages", len(seen), len(msgs))
		}
		if !strings.Contains(lines[len(lines)-1], `"type":"summary"`) {
			t.Errorf("last line is not the summary: %s", lines[len(lines)-1])
		}
	})

	t.Run("--quiet prints nothing", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-quiet"))
		msgs := testMessages("quiet", 3)
		mustSeed(t, srv, "p-quiet", "INBOX", msgs[:2])
		if stdout, stderr := e.wantRun(t, 0, "pop3", "--quiet"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		mustSeed(t, srv, "p-quiet", "INBOX", msgs[2:])
		// A run flag works before the command too.
		if stdout, stderr := e.wantRun(t, 0, "--quiet", "pop3"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		// No mail: still nothing.
		if stdout, stderr := e.wantRun(t, 0, "-q", "pop3"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
	})

	t.Run("--wait takes the lock once it is released", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-wait"))
		msgs := testMessages("wait", 2)
		mustSeed(t, srv, "p-wait", "INBOX", msgs)
		release := holdLock(t, e.cliEnv.stateDir("pop")+"/lock")
		code, _, stderr := e.runCLI(t, "pop3")
		if code != 4 {
			t.Fatalf("exit code %d with the lock held, want 4", code)
		}
		oneErrorLine(t, stderr)
		timer := time.AfterFunc(300*time.Millisecond, func() { release() })
		defer timer.Stop()
		start := time.Now()
		stdout, _ := e.wantRun(t, 0, "pop3", "--wait=2s")
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("the run did not wait: %v", took)
		}
		if !strings.HasPrefix(stdout, "pop: 2 new") {
			t.Errorf("stdout %q", stdout)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
	})
}

// A disk that fills up during delivery: exit 74, what fitted is delivered
// and deleted on the server (only that), no file left in tmp/, every file
// in new/ complete. With room again, the next run fetches the rest and no
// message twice.
func TestDovecotCLIDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	srv := cliServer(t, "p-disk")
	e := newServerEnv(t, srv)
	mail := filepath.Join(e.dir, "small")
	// 4 MiB: the first commit batch (64 messages, 3.2 MB) fits, the
	// second does not.
	mountTmpfs(t, mail, 4<<20, false)
	e.config(t, strings.Replace(e.account("pop", "pop3", "p-disk"), e.maildir("pop"), filepath.Join(mail, "Mail"), 1))

	// 100 messages of about 50 KB: 5 MB.
	msgs := testMessages("disk", 100)
	filler := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog, again and again.\n"), 800)
	for i := range msgs {
		msgs[i].Raw = append(msgs[i].Raw, filler...)
	}
	mustSeed(t, srv, "p-disk", "INBOX", msgs)

	code, stdout, stderr := e.runCLI(t, "pop3")
	if code != 74 {
		t.Fatalf("exit code %d, want 74\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	oneErrorLine(t, stderr)
	if !strings.Contains(stderr, "no space left on device") {
		t.Errorf("stderr does not say why: %s", stderr)
	}
	root := filepath.Join(mail, "Mail")
	if got := entries(t, filepath.Join(root, "tmp")); len(got) > 0 {
		t.Errorf("tmp/ holds %q", got)
	}
	all := map[string]bool{}
	for _, m := range msgs {
		all[string(m.Raw)] = true
	}
	first := delivered(t, root)
	for name, data := range first {
		if !all[string(data)] {
			t.Errorf("%s is not a complete message (%d bytes)", name, len(data))
		}
	}
	t.Logf("%d messages delivered before the disk was full", len(first))
	// What was delivered was deleted on the server, and only that: the rest
	// waits for a run with room.
	if len(first) == 0 || len(first) == len(msgs) {
		t.Errorf("%d of %d delivered: the test needs a disk that fills part way", len(first), len(msgs))
	}
	if n := mustCount(t, srv, "p-disk", "INBOX"); n != len(msgs)-len(first) {
		t.Errorf("%d messages on the server after the failed run, want the %d not delivered", n, len(msgs)-len(first))
	}

	// Room again: the rest arrives, and nothing twice.
	if err := syscall.Mount("tmpfs", mail, "tmpfs", syscall.MS_REMOUNT, "size=16m"); err != nil {
		t.Fatalf("remount: %v", err)
	}
	stdout, _ = e.wantRun(t, 0, "pop3")
	if !strings.Contains(stdout, fmt.Sprintf("%d new", len(msgs)-len(first))) {
		t.Errorf("second run: %q", stdout)
	}
	sameMessages(t, root, raws(msgs))
	if n := mustCount(t, srv, "p-disk", "INBOX"); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
}
