package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestJSONSchema pins the documented --json fields (README, "JSON output").
func TestJSONSchema(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := NewRenderer(Options{Stdout: &stdout, Stderr: &stderr, JSON: true})
	date := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r.Emit(Event{Kind: Delivered, Account: "work", Protocol: "imap", Folder: "INBOX", ServerID: "7",
		Path: "/m/cur/x:2,S", Size: 120, Flags: "S", MessageID: "a@b", From: "Ann <ann@example.com>", Subject: "Hi", Date: date})
	r.Emit(Event{Kind: Deleted, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u1"})
	r.Emit(Event{Kind: Error, Account: "work", Protocol: "imap", Folder: "Spam", Err: failure.Wrap(failure.Temporary, errors.New("timeout"))})
	r.Emit(Event{Kind: AccountDone, Account: "work", Protocol: "imap"})
	r.Close(3)

	lines := decodeLines(t, stdout.Bytes())
	if len(lines) != 4 {
		t.Fatalf("want 4 JSON lines, got %d:\n%s", len(lines), stdout.String())
	}
	msg := lines[0]
	for k, want := range map[string]any{"type": "message", "account": "work", "protocol": "imap", "folder": "INBOX",
		"id": "7", "path": "/m/cur/x:2,S", "size": 120.0, "flags": "S", "message_id": "a@b",
		"from": "Ann <ann@example.com>", "subject": "Hi", "date": "2026-11-25T10:00:00Z"} {
		if msg[k] != want {
			t.Errorf("message.%s = %v, want %v", k, msg[k], want)
		}
	}
	if lines[1]["type"] != "deleted" || lines[1]["side"] != "server" {
		t.Errorf("deleted line: %v", lines[1])
	}
	if lines[2]["type"] != "error" || lines[2]["error_kind"] != "temporary" || lines[2]["error"] != "timeout" {
		t.Errorf("error line: %v", lines[2])
	}
	sum := lines[3]
	if sum["type"] != "summary" || sum["delivered"] != 1.0 || sum["deleted"] != 1.0 || sum["exit_code"] != 3.0 || sum["errors"] != 1.0 {
		t.Errorf("summary: %v", sum)
	}
	// Diagnostics go to stderr as well, one line each.
	if got := strings.TrimSpace(stderr.String()); got != "mailfetch: work: Spam: timeout" {
		t.Errorf("stderr = %q", got)
	}
}

func TestQuietPrintsOnlyErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := NewRenderer(Options{Stdout: &stdout, Stderr: &stderr, Quiet: true})
	r.Emit(Event{Kind: Delivered, Account: "a", Protocol: "pop3", Folder: "INBOX", Size: 10})
	r.Emit(Event{Kind: Notice, Account: "a", Protocol: "pop3", Text: "note"})
	r.Close(0)
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("quiet run printed: stdout %q stderr %q", stdout.String(), stderr.String())
	}
	r = NewRenderer(Options{Stdout: &stdout, Stderr: &stderr, Quiet: true})
	r.Emit(Event{Kind: AccountDone, Account: "a", Protocol: "pop3", Err: errors.New("login refused")})
	r.Emit(Event{Kind: AccountDone, Account: "a", Protocol: "pop3", Err: errors.New("login refused")})
	r.Close(77)
	if got := stderr.String(); got != "mailfetch: a: login refused\n" {
		t.Fatalf("an account error must be printed once: %q", got)
	}
}

func TestSummaryLines(t *testing.T) {
	var stdout, stderr bytes.Buffer
	r := NewRenderer(Options{Stdout: &stdout, Stderr: &stderr})
	r.Emit(Event{Kind: Delivered, Account: "a", Protocol: "pop3", Size: 2048})
	r.Emit(Event{Kind: Deleted, Account: "a", Protocol: "pop3"})
	r.Emit(Event{Kind: AccountStart, Account: "b", Protocol: "imap"})
	r.Close(0)
	want := "a: 1 new (2.0 KiB), 1 deleted on the server\nb: no new mail\n"
	if stdout.String() != want {
		t.Fatalf("summary:\n%q\nwant\n%q", stdout.String(), want)
	}
}
