package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// testEnv gives the test a home directory of its own and no XDG variables,
// so that defaults and ~ expansion are predictable.
func testEnv(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME"} {
		t.Setenv(v, "")
	}
	return home
}

// writeConfig writes data as config.toml with the given mode into a fresh
// directory and returns its path.
func writeConfig(t *testing.T, data string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to the umask
		t.Fatal(err)
	}
	return path
}

// directives reads a case file's "# want:", "# want-not:" and "# mode:"
// comments.
func directives(t *testing.T, data string) (want, wantNot []string, mode fs.FileMode) {
	t.Helper()
	mode = 0o600
	for _, line := range strings.Split(data, "\n") {
		if v, ok := strings.CutPrefix(line, "# want: "); ok {
			want = append(want, v)
		}
		if v, ok := strings.CutPrefix(line, "# want-not: "); ok {
			wantNot = append(wantNot, v)
		}
		if v, ok := strings.CutPrefix(line, "# mode: "); ok {
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				t.Fatalf("bad mode directive %q", v)
			}
			mode = fs.FileMode(m)
		}
	}
	return want, wantNot, mode
}

// TestLoadCases runs every file under testdata/load: a file without "want"
// lines must load, one with them must fail with each of them in the error.
func TestLoadCases(t *testing.T) {
	files, err := filepath.Glob("testdata/load/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".toml"), func(t *testing.T) {
			testEnv(t)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, wantNot, mode := directives(t, string(data))
			path := writeConfig(t, string(data), mode)
			cfg, err := Load(path)
			if len(want) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(cfg.Accounts) == 0 {
					t.Fatal("no accounts loaded")
				}
				for _, a := range cfg.Accounts {
					if err := a.Validate(); err != nil {
						t.Errorf("loaded account does not validate: %v", err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want an error with %q", want)
			}
			if k := failure.KindOf(err); k != failure.Usage {
				t.Errorf("kind %v, want usage", k)
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			for _, w := range wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("error contains %q:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n < len(want) {
				t.Errorf("%d error lines for %d expected problems:\n%s", n, len(want), msg)
			}
		})
	}
}

// exported strips what the comparison should not see.
func exported(a *Account) Account {
	c := *a
	c.derivedPort = 0
	return c
}

func TestLoadExample(t *testing.T) {
	home := testEnv(t)
	data, err := os.ReadFile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(writeConfig(t, string(data), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(home, ".local", "state", "mailfetch")
	want := []Account{
		{
			Name: "work", Protocol: "imap", Host: "imap.example.com", Port: 993, TLS: "implicit",
			User: "me@example.com", Auth: "auto", PasswordCommand: "pass show mail/work", PasswordTimeout: time.Minute,
			Maildir: filepath.Join(home, "Mail/work"), Layout: "fs", StateDir: filepath.Join(state, "work"),
			Timeout: 2 * time.Minute, Deadline: 3 * time.Hour, FailAfter: 24 * time.Hour,
			Folders: []string{"*", "!Trash", "!Spam"}, Jobs: 4,
		},
		{
			Name: "home", Protocol: "pop3", Host: "mail.home.example", Port: 110, TLS: "starttls",
			CAFile: filepath.Join(home, ".config/mailfetch/home-ca.pem"), User: "me", Auth: "apop",
			PasswordFile: filepath.Join(home, ".config/mailfetch/home.pass"), PasswordTimeout: time.Minute,
			Maildir: filepath.Join(home, "Mail/home"), Layout: "maildir++", StateDir: filepath.Join(state, "home"),
			Timeout: 2 * time.Minute, Deadline: 3 * time.Hour, FailAfter: 24 * time.Hour, Keep: true, DeleteAfter: 30, MaxSize: 20_000_000, MaxMessages: 500,
		},
		{
			Name: "old", Protocol: "pop3", Host: "pop.legacy.example", Port: 995, TLS: "implicit",
			Fingerprint: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
			User:        "legacy-user", Auth: "auto", PasswordEnv: "OLD_MAIL_PASSWORD", PasswordTimeout: time.Minute,
			Layout: "maildir++", MDA: "/usr/bin/procmail -d me", StateDir: filepath.Join(state, "legacy"),
			Timeout: 2 * time.Minute, Deadline: 3 * time.Hour, FailAfter: 24 * time.Hour,
		},
		{
			Name: "lab", Protocol: "imap", Host: "127.0.0.1", Port: 10143, TLS: "none", AllowPlaintext: true,
			User: "alice", Auth: "auto", Password: "secret", PasswordTimeout: time.Minute,
			Maildir: filepath.Join(home, "Mail/lab"), Layout: "maildir++", StateDir: filepath.Join(state, "lab"),
			Timeout: 10 * time.Second, Deadline: Disabled, FailAfter: Disabled, Folders: []string{"*"}, Jobs: 4,
		},
	}
	if len(cfg.Accounts) != len(want) {
		t.Fatalf("%d accounts, want %d", len(cfg.Accounts), len(want))
	}
	for i, a := range cfg.Accounts {
		if got := exported(a); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("account %d:\n got %s\nwant %s", i, fields(got), fields(want[i]))
		}
	}
}

// fields prints every field, password included: for test failures only.
func fields(a Account) string {
	v := reflect.ValueOf(a)
	var b strings.Builder
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			fmt.Fprintf(&b, "%s=%v ", f.Name, v.Field(i).Interface())
		}
	}
	return b.String()
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "config.toml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not match fs.ErrNotExist: %v", err)
	}
	if failure.KindOf(err) != failure.Usage {
		t.Errorf("kind %v, want usage", failure.KindOf(err))
	}
	for _, w := range []string{path, "create it", "[account.NAME]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestLoadDefaultPath(t *testing.T) {
	home := testEnv(t)
	_, err := Load("")
	if want := filepath.Join(home, ".config", "mailfetch", "config.toml"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load(\"\") = %v, want an error naming %s", err, want)
	}
}

func TestDefaultPath(t *testing.T) {
	home := testEnv(t)
	for _, tc := range []struct {
		xdg, want string
	}{
		{"", filepath.Join(home, ".config/mailfetch/config.toml")},
		{"/xdg/config", "/xdg/config/mailfetch/config.toml"},
		{"relative/config", filepath.Join(home, ".config/mailfetch/config.toml")}, // the spec: ignore
	} {
		t.Setenv("XDG_CONFIG_HOME", tc.xdg)
		if got := DefaultPath(); got != tc.want {
			t.Errorf("XDG_CONFIG_HOME=%q: DefaultPath() = %q, want %q", tc.xdg, got, tc.want)
		}
	}
}

func TestDefaultStateDirAndExpansion(t *testing.T) {
	home := testEnv(t)
	cfg := `
[account.a]
protocol = "imap"
host = "h"
user = "u"
maildir = "~/Mail/a"
password-file = "~/.a.pass"
ca-file = "~/ca.pem"

[account.b]
protocol = "pop3"
host = "h"
user = "u"
maildir = "~"
state-dir = "~/state/b"
`
	for _, tc := range []struct {
		xdgState   string
		wantStateA string
	}{
		{"", filepath.Join(home, ".local/state/mailfetch/a")},
		{"/var/xdg", "/var/xdg/mailfetch/a"},
	} {
		t.Setenv("XDG_STATE_HOME", tc.xdgState)
		c, err := Load(writeConfig(t, cfg, 0o600))
		if err != nil {
			t.Fatal(err)
		}
		a, b := c.Accounts[0], c.Accounts[1]
		for _, p := range []struct{ got, want string }{
			{a.StateDir, tc.wantStateA},
			{a.LockPath(), filepath.Join(tc.wantStateA, "lock")},
			{a.Maildir, filepath.Join(home, "Mail/a")},
			{a.PasswordFile, filepath.Join(home, ".a.pass")},
			{a.CAFile, filepath.Join(home, "ca.pem")},
			{b.Maildir, home},
			{b.StateDir, filepath.Join(home, "state/b")},
		} {
			if p.got != p.want {
				t.Errorf("XDG_STATE_HOME=%q: got %q, want %q", tc.xdgState, p.got, p.want)
			}
		}
	}
}

func TestDefaultPorts(t *testing.T) {
	testEnv(t)
	for _, tc := range []struct {
		protocol, tls string
		port          int
	}{
		{"pop3", "", 995},
		{"pop3", "implicit", 995},
		{"pop3", "starttls", 110},
		{"pop3", "none", 110},
		{"imap", "", 993},
		{"imap", "IMPLICIT", 993},
		{"imap", "starttls", 143},
		{"imap", "none", 143},
	} {
		a := &Account{Name: "x", Protocol: tc.protocol, TLS: tc.tls, Host: "h", User: "u", Maildir: "/m", AllowPlaintext: true}
		if err := a.Finish(); err != nil {
			t.Errorf("%s/%s: %v", tc.protocol, tc.tls, err)
		}
		if a.Port != tc.port {
			t.Errorf("%s/%s: port %d, want %d", tc.protocol, tc.tls, a.Port, tc.port)
		}
	}
}

// TestPortFollowsTLS covers flags applied after Load: a port the file did
// not set follows a changed TLS mode, a port that was set stays.
func TestPortFollowsTLS(t *testing.T) {
	testEnv(t)
	c, err := Load(writeConfig(t, `
[account.derived]
protocol = "imap"
host = "h"
user = "u"
maildir = "/m/d"

[account.explicit]
protocol = "imap"
host = "h"
port = 10993
user = "u"
maildir = "/m/e"
`, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	d, e := c.Accounts[0], c.Accounts[1]
	if d.Port != 993 || e.Port != 10993 {
		t.Fatalf("ports after Load: %d, %d", d.Port, e.Port)
	}
	d.TLS, e.TLS = "starttls", "starttls"
	if err := errors.Join(d.Finish(), e.Finish()); err != nil {
		t.Fatal(err)
	}
	if d.Port != 143 || e.Port != 10993 {
		t.Errorf("ports after --tls starttls: %d, %d; want 143, 10993", d.Port, e.Port)
	}
	d.Port = 1143 // --port
	d.TLS = "implicit"
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if d.Port != 1143 {
		t.Errorf("a port given after Load was replaced: %d", d.Port)
	}
}

func TestDefaultsInheritance(t *testing.T) {
	testEnv(t)
	c, err := Load(writeConfig(t, `
[defaults]
user = "me"
password-command = "pass mail"
maildir = "/var/mail/shared"
keep = true
folders = ["INBOX"]
timeout = "5s"

[account.pop]
protocol = "pop3"
host = "pop.example.com"

[account.imap]
protocol = "imap"
host = "imap.example.com"
password-env = "IMAP_PASSWORD"
mda = "deliver"
timeout = "7s"
`, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	p, i := c.Accounts[0], c.Accounts[1]
	if p.User != "me" || p.PasswordCommand != "pass mail" || p.Maildir != "/var/mail/shared" || !p.Keep || p.Folders != nil || p.Timeout != 5*time.Second {
		t.Errorf("pop3 account did not inherit as expected: %s", fields(*p))
	}
	if i.PasswordCommand != "" || i.PasswordEnv != "IMAP_PASSWORD" {
		t.Errorf("password group was mixed: command %q, env %q", i.PasswordCommand, i.PasswordEnv)
	}
	if i.Maildir != "" || i.MDA != "deliver" {
		t.Errorf("destination group was mixed: maildir %q, mda %q", i.Maildir, i.MDA)
	}
	if i.Keep || i.Timeout != 7*time.Second || !reflect.DeepEqual(i.Folders, []string{"INBOX"}) {
		t.Errorf("imap account inherited wrongly: %s", fields(*i))
	}
}

func TestAccountOrder(t *testing.T) {
	testEnv(t)
	c, err := Load(writeConfig(t, `
[defaults]
protocol = "pop3"
host = "h"
user = "u"
[account.zeta]
maildir = "/m/z"
[account.alpha]
maildir = "/m/a"
[account."mid.dle"]
maildir = "/m/m"
`, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range c.Accounts {
		names = append(names, a.Name)
	}
	if want := []string{"zeta", "alpha", "mid.dle"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order %q, want %q", names, want)
	}
}

func TestSelect(t *testing.T) {
	testEnv(t)
	c, err := Load(writeConfig(t, `
[defaults]
host = "h"
user = "u"
[account.work]
protocol = "imap"
maildir = "/m/work"
[account.home]
protocol = "pop3"
maildir = "/m/home"
[account.old]
protocol = "pop3"
maildir = "/m/old"
`, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		protocol string
		names    []string
		want     []string // account names, or nil with wantErr
		wantErr  []string
	}{
		{"all pop3", "pop3", nil, []string{"home", "old"}, nil},
		{"all imap", "imap", nil, []string{"work"}, nil},
		{"all", "", nil, []string{"work", "home", "old"}, nil},
		{"named order and duplicates", "pop3", []string{"old", "home", "old"}, []string{"old", "home"}, nil},
		{"unknown", "pop3", []string{"hoem"}, nil, []string{`no account "hoem"`, `did you mean "home"?`, `"work" (imap), "home" (pop3), "old" (pop3)`}},
		{"other protocol", "pop3", []string{"work"}, nil, []string{`account "work" is an imap account, not pop3`}},
		{"every problem", "imap", []string{"home", "nope"}, nil, []string{`account "home" is a pop3 account, not imap`, `no account "nope"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Select(tc.protocol, tc.names)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Select succeeded")
				}
				if failure.KindOf(err) != failure.Usage {
					t.Errorf("kind %v, want usage", failure.KindOf(err))
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range got {
				names = append(names, a.Name)
			}
			if !reflect.DeepEqual(names, tc.want) {
				t.Errorf("got %q, want %q", names, tc.want)
			}
		})
	}

	// A file without accounts of the protocol.
	only, err := Load(writeConfig(t, "[account.w]\nprotocol = \"imap\"\nhost = \"h\"\nuser = \"u\"\nmaildir = \"/m\"\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := only.Select("pop3", nil); err == nil || !strings.Contains(err.Error(), "has no pop3 accounts") {
		t.Errorf("Select of a missing protocol: %v", err)
	}
	empty, err := Load(writeConfig(t, "# nothing yet\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Select("imap", nil); err == nil || !strings.Contains(err.Error(), "has no accounts") {
		t.Errorf("Select in an empty file: %v", err)
	}
}

// TestValidateFlagBuilt covers accounts that never saw a file: the same
// checks, without line numbers.
func TestValidateFlagBuilt(t *testing.T) {
	testEnv(t)
	for _, tc := range []struct {
		name string
		a    Account
		want []string
	}{
		{"ok", Account{Name: "u@h", Protocol: "pop3", Host: "h", User: "u", Maildir: "Mail"}, nil},
		{"no host", Account{Name: "x", Protocol: "imap", User: "u", Maildir: "/m"}, []string{`account "x": host is required`}},
		{"apop imap", Account{Name: "x", Protocol: "imap", Host: "h", User: "u", Auth: "apop", Maildir: "/m"}, []string{`account "x": auth "apop" is for pop3 accounts only`}},
		{"plaintext", Account{Name: "x", Protocol: "pop3", Host: "h", User: "u", TLS: "none", Maildir: "/m"}, []string{`would send the password in clear`}},
		{"port", Account{Name: "x", Protocol: "pop3", Host: "h", Port: -1, User: "u", Maildir: "/m"}, []string{`port -1 is out of range`}},
		{"negative", Account{Name: "x", Protocol: "pop3", Host: "h", User: "u", Maildir: "/m", Keep: true, DeleteAfter: -1, MaxSize: -1, MaxMessages: -2, Timeout: -time.Second},
			[]string{"delete-after -1 must not be negative", "max-size -1", "max-messages -2", "timeout -1s must be positive"}},
		{"tls none pins", Account{Name: "x", Protocol: "imap", Host: "h", User: "u", Maildir: "/m", TLS: "none", AllowPlaintext: true, CAFile: "/ca", Fingerprint: strings.Repeat("ab", 32)},
			[]string{"ca-file has no effect", "fingerprint has no effect"}},
		{"negative deadline", Account{Name: "x", Protocol: "imap", Host: "h", User: "u", Maildir: "/m", Deadline: -time.Minute, FailAfter: -time.Hour},
			[]string{"deadline -1m0s must not be negative (0: no deadline)", "fail-after -1h0m0s must not be negative (0: never)"}},
		{"url host", Account{Name: "x", Protocol: "imap", Host: "imaps://h", User: "u", Maildir: "/m"}, []string{`host "imaps://h" is not a host name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			err := a.Finish()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !filepath.IsAbs(a.Maildir) {
					t.Errorf("relative maildir %q was not made absolute", a.Maildir)
				}
				return
			}
			if err == nil {
				t.Fatal("Finish succeeded")
			}
			if failure.KindOf(err) != failure.Usage {
				t.Errorf("kind %v, want usage", failure.KindOf(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), ".toml:") {
				t.Errorf("a flag-built account's error names a file: %v", err)
			}
		})
	}
}

func TestFingerprintForms(t *testing.T) {
	const hexFP = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	colons := strings.ToUpper(hexFP[:2])
	for i := 2; i < len(hexFP); i += 2 {
		colons += ":" + strings.ToUpper(hexFP[i:i+2])
	}
	for _, in := range []string{hexFP, strings.ToUpper(hexFP), colons, "SHA256:" + hexFP, "sha256 Fingerprint=" + colons} {
		a := Account{Name: "x", Protocol: "imap", Host: "h", User: "u", Maildir: "/m", Fingerprint: in}
		if err := a.Finish(); err != nil {
			t.Errorf("%q: %v", in, err)
		}
		if a.Fingerprint != hexFP {
			t.Errorf("%q became %q", in, a.Fingerprint)
		}
	}
}

func TestAccountFormattingHidesPassword(t *testing.T) {
	a := &Account{Name: "x", Protocol: "imap", Host: "h", Port: 993, User: "u", Password: "hunter2"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{a, *a} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, "hunter2") {
				t.Errorf("%s of %T shows the password: %s", format, v, s)
			}
		}
	}
}

// FuzzParse checks that no document makes the loader panic, and that what
// it accepts passes Validate.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/load/*.toml")
	files = append(files, "testdata/example.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("config.toml", data, 0o600)
		if err != nil {
			if failure.KindOf(err) != failure.Usage {
				t.Errorf("error of kind %v: %v", failure.KindOf(err), err)
			}
			return
		}
		for _, a := range cfg.Accounts {
			if err := a.Validate(); err != nil {
				t.Errorf("accepted an invalid account: %v", err)
			}
		}
	})
}
