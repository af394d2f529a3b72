package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/maildir"
)

// TestCompletion checks what the shell completion offers: commands without
// urfave's help/h noise, flags, account names and the folders of their
// Maildirs from the config file, and the values of --tls.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "Mail", "work")
	store, err := maildir.Open(work, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range [][]string{{"Archive", "2024"}, {"Sent"}} {
		if _, err := store.Folder(f); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(`[account.home]
protocol = "pop3"
host = "pop.example.net"
user = "me"
password-command = "echo x"
maildir = "`+filepath.Join(dir, "Mail", "home")+`"

[account.work]
protocol = "imap"
host = "imap.example.net"
user = "me"
password-command = "echo x"
maildir = "`+work+`"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(args ...string) []string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(append([]string{"mailfetch"}, args...), "--generate-bash-completion")
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut.String())
		}
		return strings.Fields(out.String())
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"pop3", "imap", "run", "accounts", "import", "version", "man", "completion"}},
		{[]string{"imap"}, []string{"sync", "list"}},
		{[]string{"pop3", "--config", cfg, "--account"}, []string{"home", "work"}},
		{[]string{"imap", "sync", "-c", cfg, "--folders"}, []string{"INBOX", "Archive/2024", "Sent"}},
		{[]string{"imap", "sync", "--tls"}, []string{"implicit", "starttls", "none"}},
		{[]string{"import"}, []string{"mbsync", "offlineimap", "getmail", "fetchmail", "mpop"}},
	} {
		got := complete(c.args...)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", c.args, got, want)
		}
	}
	flags := complete("imap", "sync", "-")
	for _, want := range []string{"--jobs", "--expunge-remote", "--dry-run", "--account"} {
		if !slices.Contains(flags, want) {
			t.Errorf("imap sync flags %q lack %s", flags, want)
		}
	}
	if slices.Contains(flags, "--keep") {
		t.Error("imap sync offers --keep")
	}
}
