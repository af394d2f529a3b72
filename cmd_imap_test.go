package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mailfetch imap against a real Dovecot: configs as a user writes them,
// runs through run().
func TestIMAPCLI(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "i-sync")

	t.Run("imap sync, then imap list", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("imap", "imap", "i-sync"))
		inbox := testMessages("inbox", 3, "", "S", "FS")
		work := testMessages("work", 2, "R")
		reports := testMessages("reports", 1, "S")
		mustSeed(t, srv, "i-sync", "INBOX", inbox)
		mustSeed(t, srv, "i-sync", "Work", work)
		mustSeed(t, srv, "i-sync", "Work/Reports", reports)
		stdout, stderr := e.wantRun(t, 0, "imap", "sync")
		if !strings.HasPrefix(stdout, "imap: 6 new (") || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		root := e.maildir("imap")
		sameMessages(t, root, raws(inbox))
		sameMessages(t, filepath.Join(root, ".Work"), raws(work))
		sameMessages(t, filepath.Join(root, ".Work.Reports"), raws(reports))
		// Flags came along: the seen ones are in cur/ with S.
		seen := 0
		for name := range delivered(t, root) {
			if _, info, _ := strings.Cut(name, ":2,"); strings.Contains(info, "S") {
				seen++
			}
		}
		if seen != 2 {
			t.Errorf("%d seen messages in INBOX, want 2: %q", seen, slices.Collect(maps.Keys(delivered(t, root))))
		}
		if stdout, _ := e.wantRun(t, 0, "imap", "sync"); stdout != "imap: no new mail\n" {
			t.Errorf("second sync: %q", stdout)
		}

		stdout, stderr = e.wantRun(t, 0, "imap", "list")
		if stderr != "" {
			t.Errorf("list: stderr %q", stderr)
		}
		rows := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 {
				rows[f[0]] = f[1:]
			}
		}
		want := map[string][]string{
			"imap":         {"MESSAGES", "UNSEEN", "LOCAL", "PATH"},
			"INBOX":        {"3", "1", root},
			"Work":         {"2", "2", filepath.Join(root, ".Work")},
			"Work/Reports": {"1", "0", filepath.Join(root, ".Work.Reports")},
		}
		for name, w := range want {
			if !slices.Equal(rows[name], w) {
				t.Errorf("list: %s is %q, want %q\n%s", name, rows[name], w, stdout)
			}
		}
		if len(rows) != len(want) {
			t.Errorf("list:\n%s", stdout)
		}
		stdout, _ = e.wantRun(t, 0, "imap", "list", "--json")
		folders := 0
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var f struct {
				Type, Account, Folder, Path string
				Messages, Unseen            int
			}
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatalf("list --json: %v: %s", err, line)
			}
			if w, ok := want[f.Folder]; !ok || f.Type != "folder" || f.Account != "imap" ||
				strconv.Itoa(f.Messages) != w[0] || strconv.Itoa(f.Unseen) != w[1] || f.Path != w[2] {
				t.Errorf("list --json: %s", line)
			}
			folders++
		}
		if folders != 3 {
			t.Errorf("list --json: %d folders:\n%s", folders, stdout)
		}
	})
}

// The trust edges through the CLI: the same IMAP account pointed at a new
// Maildir with --expunge-remote deletes nothing on the server (the dry run
// says so first), and a real mass deletion is held back with exit 5 until
// --allow-mass-delete.
func TestDovecotCLITrustEdges(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "i-edge")
	e := newServerEnv(t, srv)
	e.config(t, e.account("work", "imap", "i-edge"))
	msgs := testMessages("edge", 40)
	mustSeed(t, srv, "i-edge", "INBOX", msgs)
	e.wantRun(t, 0, "imap", "sync")
	sameMessages(t, e.maildir("work"), raws(msgs))

	// Another Maildir: the state does not describe it.
	other := filepath.Join(e.dir, "Other")
	stdout, stderr := e.wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote", "--dry-run")
	if strings.Contains(stdout+stderr, "would delete") || !strings.Contains(stdout+stderr, "is new or empty") {
		t.Errorf("dry run over another Maildir:\nstdout %s\nstderr %s", stdout, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("the dry run created the Maildir")
	}
	e.wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote")
	if n := mustCount(t, srv, "i-edge", "INBOX"); n != len(msgs) {
		t.Fatalf("the server has %d of %d messages", n, len(msgs))
	}
	sameMessages(t, other, raws(msgs))

	// A real deletion of 30 of 40 in the Maildir the state describes now.
	n := 0
	for path := range delivered(t, other) {
		if n == 30 {
			break
		}
		if err := os.Remove(filepath.Join(other, path)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	code, stdout, stderr := e.runCLI(t, "imap", "sync", "--maildir", other, "--expunge-remote")
	if code != 5 || !strings.Contains(stderr, "refusing to delete 30 of the 40 messages on the server") || !strings.Contains(stderr, "--allow-mass-delete") {
		t.Fatalf("mass deletion: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if n := mustCount(t, srv, "i-edge", "INBOX"); n != len(msgs) {
		t.Fatalf("the guard let %d messages go", len(msgs)-n)
	}
	e.wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote", "--allow-mass-delete")
	if n := mustCount(t, srv, "i-edge", "INBOX"); n != 10 {
		t.Errorf("with consent the server has %d messages, want 10", n)
	}
}
