package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/config"
)

const importMBSyncrc = `IMAPAccount work
Host imap.example.com
User me@example.com
Pass "plain secret"
SSLType IMAPS

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns * !Trash
Sync Pull
`

// importHome makes a home directory for the import's default locations.
func importHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("USER", "me")
	return home
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadImported loads the printed config as a user would save it.
func loadImported(t *testing.T, stdout string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, p, stdout)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, stdout)
	}
	return cfg
}

// TestImportFile runs `mailfetch import mbsync FILE`: the config on stdout
// loads, has the account, and holds no plaintext password; what needs a
// decision is said on stderr, a line each.
func TestImportFile(t *testing.T) {
	home := importHome(t)
	rc := filepath.Join(t.TempDir(), "my mbsyncrc")
	writeFile(t, rc, importMBSyncrc)
	code, stdout, stderr := runCLI(t, "import", "mbsync", rc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "plain secret") || strings.Contains(stderr, "plain secret") {
		t.Error("the plaintext password was printed")
	}
	cfg := loadImported(t, stdout)
	if len(cfg.Accounts) != 1 {
		t.Fatalf("%d accounts, want 1", len(cfg.Accounts))
	}
	a := cfg.Accounts[0]
	if a.Name != "work" || a.Protocol != "imap" || a.Host != "imap.example.com" || a.Port != 993 || a.TLS != "implicit" ||
		a.User != "me@example.com" || a.Maildir != filepath.Join(home, "Mail/work") || a.Layout != "fs" ||
		strings.Join(a.Folders, ",") != "*,!Trash" || a.PasswordCommand != "" {
		t.Errorf("account %+v", *a)
	}
	if !strings.Contains(stdout, `# password-command = "pass show mail/work"`) {
		t.Errorf("no hint where the password was:\n%s", stdout)
	}
	// Sync Pull: mailfetch also pushes flags, which the user must know.
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "mailfetch: import: ") {
			t.Errorf("stderr line %q", l)
		}
	}
	if !strings.Contains(stderr, `account "work": mbsync Sync (line 19): mailfetch also sends flag changes`) {
		t.Errorf("stderr does not warn about Sync Pull:\n%s", stderr)
	}
}

// TestImportDefaultLocation finds the peers' configs where the peers look:
// isync 1.5's $XDG_CONFIG_HOME/isyncrc before ~/.mbsyncrc, and every
// getmailrc* of ~/.getmail.
func TestImportDefaultLocation(t *testing.T) {
	home := importHome(t)
	writeFile(t, filepath.Join(home, ".mbsyncrc"), importMBSyncrc)
	code, stdout, stderr := runCLI(t, "import", "mbsync")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "imported from the mbsync config "+filepath.Join(home, ".mbsyncrc")) {
		t.Errorf("not read from ~/.mbsyncrc:\n%s", stdout)
	}
	loadImported(t, stdout)

	writeFile(t, filepath.Join(home, ".config", "isyncrc"), strings.ReplaceAll(importMBSyncrc, "imap.example.com", "imap.xdg.example"))
	code, stdout, stderr = runCLI(t, "import", "mbsync")
	if code != 0 || !strings.Contains(stdout, `host = "imap.xdg.example"`) {
		t.Errorf("exit %d, $XDG_CONFIG_HOME/isyncrc not preferred:\n%s%s", code, stdout, stderr)
	}

	for name, host := range map[string]string{"getmailrc-a": "pop.a.example", "getmailrc-b": "pop.b.example", "getmailrc-b~": "backup.example", "oldmail-x": "no"} {
		writeFile(t, filepath.Join(home, ".getmail", name), "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = "+host+
			"\nusername = u\npassword_command = ('pass', 'x')\n[destination]\ntype = Maildir\npath = ~/Maildir/\n")
	}
	code, stdout, stderr = runCLI(t, "import", "getmail")
	if code != 0 {
		t.Fatalf("getmail: exit %d: %s", code, stderr)
	}
	cfg := loadImported(t, stdout)
	if len(cfg.Accounts) != 2 || cfg.Accounts[0].Host != "pop.a.example" || cfg.Accounts[1].Host != "pop.b.example" {
		t.Errorf("getmail accounts from ~/.getmail: %v", cfg.Accounts)
	}
}

// TestImportErrors: a missing file, a file the peer would refuse, no config
// at the default places, a wrong peer: one line on stderr, exit 64, nothing
// on stdout.
func TestImportErrors(t *testing.T) {
	home := importHome(t)
	bad := filepath.Join(home, ".fetchmailrc")
	writeFile(t, bad, "poll pop.example.com proto pop3\n  user \"joe\" keep frobnicate\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "mpop", filepath.Join(home, "nonexistent")}, "mailfetch: import: open " + filepath.Join(home, "nonexistent") + ": no such file or directory"},
		{[]string{"import", "fetchmail"}, "mailfetch: import: " + bad + `:2: syntax error: expected an option at "frobnicate"`},
		{[]string{"import", "mbsync"}, "mailfetch: import: no config found at " + filepath.Join(home, ".config", "isyncrc") + " or " +
			filepath.Join(home, ".mbsyncrc") + ": name the file: mailfetch import mbsync FILE"},
		{[]string{"import", "thunderbird"}, `mailfetch: import: unknown fetcher "thunderbird"`},
		{[]string{"import"}, "mailfetch: import: name the fetcher to import from"},
		{[]string{"import", "mpop", "a", "b"}, "mailfetch: import: name the fetcher to import from"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 64 {
			t.Errorf("%q: exit %d, want 64", tc.args, code)
		}
		oneErrorLine(t, stderr)
		if !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%q: stderr %q, want it to start with %q", tc.args, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("%q: stdout %q", tc.args, stdout)
		}
	}
}
