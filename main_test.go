package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A valid POP3 account whose server is never reached (nothing listens on
// {{PORT}}), and an IMAP one.
const (
	popAccount = `[account.home]
protocol = "pop3"
host = "127.0.0.1"
port = {{PORT}}
user = "me"
password-command = "echo pw"
maildir = "{{MAIL}}"
`
	imapAccount = `[account.work]
protocol = "imap"
host = "127.0.0.1"
port = {{PORT}}
user = "me"
password-command = "echo pw"
maildir = "{{DIR}}/Work"
`
)

// Every bad input: one clear line on stderr, nothing on stdout, the
// documented exit code, and nothing written: no Maildir, no state.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		config string      // the default config file; "" for none
		mode   os.FileMode // of the config file; 0 means 0600
		setup  func(t *testing.T, e *cliEnv)
		check  func(t *testing.T, e *cliEnv) // after the run
		args   []string
		code   int
		want   []string // in the error line; {{CONFIG}} is the config file
		not    []string // never in stdout or stderr
		// maildirCreated: the run may create the (empty) Maildir and its
		// state: it fails only when it talks to the server.
		maildirCreated bool
		account        string // whose state is checked; default "home"
	}{{
		name:   "TOML syntax error",
		config: "[account.home]\nprotocol = \"pop3\"\nhost = \"pop.example.net\nuser = \"me\"\n",
		args:   []string{"pop3"},
		code:   64,
		want:   []string{"{{CONFIG}}:3:", "syntax error"},
	}, {
		name:   "unknown key",
		config: strings.Replace(popAccount, "host =", "hots =", 1),
		args:   []string{"pop3"},
		code:   64,
		want:   []string{`{{CONFIG}}:3: unknown key "hots" in account "home"`, `did you mean "host"?`},
	}, {
		name:   "value of the wrong type",
		config: strings.Replace(popAccount, "port = {{PORT}}", `port = "pop3s"`, 1),
		args:   []string{"pop3"},
		code:   64,
		want:   []string{"{{CONFIG}}:4:", "port", "must be an integer"},
	}, {
		name:   "tls none without allow-plaintext",
		config: strings.Replace(popAccount, "user =", "tls = \"none\"\nuser =", 1),
		args:   []string{"pop3"},
		code:   64,
		want:   []string{"{{CONFIG}}:", "allow-plaintext"},
	}, {
		name:   "unknown --account",
		config: popAccount + "\n" + imapAccount,
		args:   []string{"pop3", "--account", "nope"},
		code:   64,
		want:   []string{`no account "nope" in {{CONFIG}}`, `"home" (pop3)`, `"work" (imap)`},
	}, {
		name:   "--account of the other protocol",
		config: popAccount + "\n" + imapAccount,
		args:   []string{"pop3", "--account", "work"},
		code:   64,
		want:   []string{`account "work" is an imap account, not pop3`},
	}, {
		name: "password-command fails",
		config: strings.Replace(popAccount, `password-command = "echo pw"`,
			`password-command = "echo not-the-password-4711; echo 'gpg: decryption failed: No secret key' >&2; exit 2"`, 1),
		args: []string{"pop3"},
		code: 64,
		// Its stderr is not shown: a failing helper may print the
		// password there (only --verbose on a terminal shows it).
		want: []string{`account "home"`, "password-command failed (exit status 2); it printed 1 line on stderr, not shown"},
		not:  []string{"not-the-password-4711", "gpg: decryption failed"},
	}, {
		name: "password-command hangs",
		config: strings.Replace(popAccount, `password-command = "echo pw"`,
			"password-command = \"echo half-a-pass; sleep 30\"\npassword-timeout = \"1s\"", 1),
		args: []string{"pop3"},
		code: 64,
		// config says "did not finish within 1s (password-timeout) and was
		// killed" rather than "timed out".
		want: []string{`account "home"`, "password-command did not finish within 1s", "password-timeout", "killed"},
		not:  []string{"half-a-pass"},
	}, {
		name:   "world-readable config holding a password",
		config: strings.Replace(popAccount, `password-command = "echo pw"`, `password = "hunter2-4711"`, 1),
		mode:   0o644,
		args:   []string{"pop3"},
		code:   64,
		want:   []string{"{{CONFIG}} is readable by others (mode 0644)", `holds a password for account "home"`, "chmod 600"},
		not:    []string{"hunter2-4711"},
	}, {
		name:   "Maildir path is a file",
		config: popAccount,
		setup: func(t *testing.T, e *cliEnv) {
			if err := os.WriteFile(e.mail, []byte("not a Maildir\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, e *cliEnv) {
			if data, err := os.ReadFile(e.mail); err != nil || string(data) != "not a Maildir\n" {
				t.Errorf("the file changed: %q, %v", data, err)
			}
		},
		args: []string{"pop3"},
		code: 74, // local I/O, as the README and --help promise for "not a Maildir"
		want: []string{"home: maildir: {{MAIL}} is a file, not a Maildir directory"},
	}, {
		name:   "directory that is not a Maildir",
		config: popAccount,
		setup: func(t *testing.T, e *cliEnv) {
			if err := os.Mkdir(e.mail, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.mail, "notes.txt"), []byte("mine\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, e *cliEnv) {
			if got := entries(t, e.mail); !slices.Equal(got, []string{"notes.txt"}) {
				t.Errorf("the directory now holds %q", got)
			}
		},
		args: []string{"pop3"},
		code: 74,
		want: []string{"home: maildir: {{MAIL}} is not a Maildir", `"notes.txt"`, "refusing to deliver"},
	}, {
		name: "no config file",
		args: []string{"pop3"},
		code: 64,
		want: []string{"no config file at {{CONFIG}}", "--config FILE"},
	}, {
		name: "--config names a missing file",
		args: []string{"--config", "/nonexistent/mailfetch.toml", "imap", "sync"},
		code: 64,
		want: []string{"no config file at /nonexistent/mailfetch.toml"},
	}, {
		name:   "unknown flag",
		config: popAccount,
		args:   []string{"pop3", "--no-such-flag"},
		code:   64,
		want:   []string{"flag provided but not defined: -no-such-flag"},
	}, {
		name: "unknown flag before the command",
		args: []string{"--no-such-flag", "pop3"},
		code: 64,
		want: []string{"flag provided but not defined: -no-such-flag"},
	}, {
		name: "flag with a bad value",
		args: []string{"pop3", "--port", "pop3s"},
		code: 64,
		want: []string{`invalid value "pop3s" for flag -port`},
	}, {
		name: "bad --wait",
		args: []string{"pop3", "--wait=soon"},
		code: 64,
		want: []string{`--wait takes a duration such as 30s or 5m, not "soon"`},
	}, {
		name: "unknown command",
		args: []string{"fetch"},
		code: 64,
		want: []string{`unknown command "fetch"`},
	}, {
		name: "unknown imap command",
		args: []string{"imap", "fetch"},
		code: 64,
		want: []string{`unknown command "imap fetch"`},
	}, {
		name: "help for an unknown command",
		args: []string{"help", "fetch"},
		code: 64,
		want: []string{"fetch"},
	}, {
		// Flags after an argument are not parsed: the --dry-run here would
		// be ignored and every account run for real.
		name:   "account named without --account",
		config: popAccount,
		args:   []string{"pop3", "home", "--dry-run"},
		code:   64,
		want:   []string{`unexpected argument "home"`, "--account NAME"},
	}, {
		name: "completion without a shell",
		args: []string{"completion"},
		code: 64,
		want: []string{"bash, zsh or fish"},
	}, {
		name:   "lock held by another run",
		config: popAccount,
		setup: func(t *testing.T, e *cliEnv) {
			holdLock(t, filepath.Join(e.stateDir("home"), "lock"))
		},
		args: []string{"pop3"},
		code: 4,
		want: []string{fmt.Sprintf(`home: account "home" is locked by another mailfetch run (pid %d)`, os.Getpid())},
	}, {
		name:   "lock held longer than --wait",
		config: popAccount,
		setup: func(t *testing.T, e *cliEnv) {
			holdLock(t, filepath.Join(e.stateDir("home"), "lock"))
		},
		args: []string{"pop3", "--wait=1s"},
		code: 4,
		want: []string{`account "home" is still locked by another mailfetch run`, "after waiting 1s"},
	}, {
		name:   "Maildir on a read-only file system",
		config: strings.Replace(popAccount, "{{MAIL}}", "{{DIR}}/ro/Mail", 1),
		setup: func(t *testing.T, e *cliEnv) {
			mountTmpfs(t, filepath.Join(e.dir, "ro"), 1<<20, true)
		},
		args: []string{"pop3"},
		code: 74,
		want: []string{"home: maildir: create {{DIR}}/ro/Mail: read-only file system"},
	}, {
		name:           "POP3 server refuses connections",
		config:         popAccount,
		args:           []string{"pop3"},
		code:           75,
		want:           []string{"home: dial 127.0.0.1:", "connection refused"},
		maildirCreated: true,
	}, {
		name:   "IMAP server refuses connections",
		config: strings.Replace(imapAccount, "{{DIR}}/Work", "{{MAIL}}", 1),
		args:   []string{"imap", "sync"},
		code:   75,
		want:   []string{"work: ", "connection refused"},
		// The engine opens the Maildir before it dials.
		maildirCreated: true,
		account:        "work",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCLIEnv(t)
			if tc.config != "" {
				mode := tc.mode
				if mode == 0 {
					mode = 0o600
				}
				e.writeConfig(t, tc.config, mode)
			}
			if tc.setup != nil {
				tc.setup(t, e)
			}
			_, preexisting := os.Lstat(e.mail)
			start := time.Now()
			code, stdout, stderr := runCLI(t, tc.args...)
			took := time.Since(start)
			t.Logf("exit %d: %s", code, strings.TrimSpace(stderr))
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			oneErrorLine(t, stderr)
			if stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
			r := strings.NewReplacer("{{CONFIG}}", e.config, "{{MAIL}}", e.mail, "{{DIR}}", e.dir)
			for _, w := range tc.want {
				if w = r.Replace(w); !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(stdout+stderr, n) {
					t.Errorf("output shows %q", n)
				}
			}
			if took > 5*time.Second {
				t.Errorf("the run took %v", took)
			}
			// Nothing half-written.
			if preexisting != nil {
				switch got := entries(t, e.mail); {
				case tc.maildirCreated && got != nil && !slices.Equal(got, []string{"cur", "new", "tmp"}):
					t.Errorf("Maildir %s holds %q", e.mail, got)
				case !tc.maildirCreated && got != nil:
					t.Errorf("Maildir %s was created", e.mail)
				}
				for _, sub := range []string{"cur", "new", "tmp"} {
					if got := entries(t, filepath.Join(e.mail, sub)); len(got) > 0 {
						t.Errorf("%s/ holds %q", sub, got)
					}
				}
			}
			account := cmp.Or(tc.account, "home")
			if tc.maildirCreated {
				// The failure record of a temporary failure is the one
				// file such a run writes.
				noState(t, e, account, "pop3.journal", "imap", failingFile)
			} else {
				noState(t, e, account)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// A password command that hangs is killed with everything it started: no
// process of its group survives the run.
func TestPasswordCommandKilled(t *testing.T) {
	e := newCLIEnv(t)
	pidFile := filepath.Join(e.dir, "pid")
	e.writeConfig(t, strings.Replace(popAccount, `password-command = "echo pw"`,
		fmt.Sprintf("password-command = \"sleep 60 & echo $! > %s; wait\"\npassword-timeout = \"1s\"", pidFile), 1), 0o600)
	code, _, stderr := runCLI(t, "pop3")
	if code != 64 {
		t.Fatalf("exit code %d, want 64; stderr:\n%s", code, stderr)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		// A zombie still answers kill 0 until its parent (init, or a
		// reaper) collects it; its state tells.
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the password command's child %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
