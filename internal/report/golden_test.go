package report

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mailfetch/mailfetch/internal/failure"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txtar from the current output")

// goldenEvents is a run that has every kind of event, of two accounts that
// succeed (POP3 and IMAP), one that fails after some work and reports its
// end twice, one that fails at once, and one with no mail.
func goldenEvents() []Event {
	date := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	auth := failure.New(failure.Auth, "login refused")
	return []Event{
		{Kind: AccountStart, Account: "home", Protocol: "pop3"},
		{Kind: FolderStart, Account: "home", Protocol: "pop3", Folder: "INBOX", Count: 2, Bytes: 3000},
		{Kind: Delivered, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u1", Path: "/m/new/1.M1P1.h,S=1000",
			Size: 1000, MessageID: "1@example.net", From: "Ann <ann@example.com>", Subject: "Hi \"there\"", Date: date},
		{Kind: Delivered, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u2", Path: "/m/new/2.M2P1.h,S=2000", Size: 2000},
		{Kind: Deleted, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u1"},
		{Kind: Deleted, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u2"},
		{Kind: Skipped, Account: "home", Protocol: "pop3", Folder: "INBOX", ServerID: "u3", Size: 5 << 20, Text: "larger than max-size"},
		{Kind: Notice, Account: "home", Protocol: "pop3", Folder: "INBOX", Text: "the server lists one message twice"},
		{Kind: FolderDone, Account: "home", Protocol: "pop3", Folder: "INBOX", Count: 2, Bytes: 3000},
		{Kind: AccountDone, Account: "home", Protocol: "pop3", Count: 2, Bytes: 3000},

		{Kind: AccountStart, Account: "work", Protocol: "imap"},
		{Kind: FolderStart, Account: "work", Protocol: "imap", Folder: "Work/Reports", Count: 1, Bytes: 1536},
		{Kind: WouldFetch, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "7", Size: 1536, From: "Bob <bob@example.com>", Subject: "Q4"},
		{Kind: WouldFetch, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "8", Size: 10},
		{Kind: Delivered, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "7", Path: "/w/.Work.Reports/cur/3.M3P1.h,S=1536:2,S",
			Size: 1536, Flags: "S", From: "Bob <bob@example.com>", Subject: "Q4", Date: date},
		{Kind: FlagsChanged, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "7", Flags: "FS"},
		{Kind: FlagsChanged, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "6", Flags: "", Local: true},
		{Kind: WouldDelete, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "5"},
		{Kind: WouldDelete, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "4", Local: true},
		{Kind: Deleted, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "3", Local: true},
		{Kind: Deleted, Account: "work", Protocol: "imap", Folder: "Work/Reports", ServerID: "2"},
		{Kind: Error, Account: "work", Protocol: "imap", Folder: "Spam", Err: failure.Wrap(failure.Temporary, errors.New("imap: SELECT Spam: timeout"))},
		{Kind: Notice, Account: "work", Protocol: "imap", Folder: "Old", Text: "the folder vanished on the server"},
		{Kind: FolderDone, Account: "work", Protocol: "imap", Folder: "Work/Reports", Count: 1, Bytes: 1536},
		{Kind: AccountDone, Account: "work", Protocol: "imap"},

		{Kind: AccountStart, Account: "flaky", Protocol: "imap"},
		{Kind: Delivered, Account: "flaky", Protocol: "imap", Folder: "INBOX", ServerID: "1", Path: "/f/new/4.M4P1.h,S=3", Size: 3 << 30},
		{Kind: AccountDone, Account: "flaky", Protocol: "imap", Err: failure.Wrap(failure.Temporary, errors.New("connection reset"))},
		{Kind: AccountDone, Account: "flaky", Protocol: "imap", Err: failure.Wrap(failure.Temporary, errors.New("connection reset"))},

		{Kind: AccountDone, Account: "locked", Protocol: "pop3", Err: auth},
		{Kind: AccountStart, Account: "idle", Protocol: "pop3"},
		{Kind: AccountDone, Account: "idle", Protocol: "pop3"},
	}
}

// TestGolden pins the Renderer's output, byte for byte, for every way the
// CLI configures it (testdata/golden; -update rewrites the files).
func TestGolden(t *testing.T) {
	cases := []struct {
		name      string
		opt       Options
		noSummary bool
	}{
		{name: "text", opt: Options{}},
		{name: "verbose", opt: Options{Verbose: true}},
		{name: "quiet", opt: Options{Quiet: true}},
		{name: "quiet-verbose", opt: Options{Quiet: true, Verbose: true}},
		{name: "dry-run", opt: Options{DryRun: true}},
		{name: "dry-run-verbose", opt: Options{DryRun: true, Verbose: true}},
		{name: "json", opt: Options{JSON: true}},
		{name: "json-dry-run", opt: Options{JSON: true, DryRun: true}},
		{name: "json-quiet-verbose", opt: Options{JSON: true, Quiet: true, Verbose: true}},
		{name: "text-no-summary", opt: Options{Verbose: true}, noSummary: true},
		{name: "json-no-summary", opt: Options{JSON: true}, noSummary: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			opt := tc.opt
			opt.Stdout, opt.Stderr = &stdout, &stderr
			r := NewRenderer(opt)
			if tc.noSummary {
				r.SetSummary(false)
			}
			for _, e := range goldenEvents() {
				r.Emit(e)
			}
			r.Close(3)
			got := txtar.Format(&txtar.Archive{Files: []txtar.File{
				{Name: "stdout", Data: stdout.Bytes()},
				{Name: "stderr", Data: stderr.Bytes()},
			}})
			path := filepath.Join("testdata", "golden", tc.name+".txtar")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n%s", path, diffLines(string(want), string(got)))
			}
		})
	}
}

// diffLines shows the first line where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "(same lines)"
}
