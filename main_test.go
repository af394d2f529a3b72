package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/dovetest"
)

// The CLI is tested at two levels:
//
//   - testdata/script/*.txtar run the real binary (this test binary, as
//     "mailfetch") for the flows a user sees: help, version, completion,
//     man, and the process's exit codes on bad usage.
//   - Go tests call run() directly: a table of bad inputs, each of which
//     must give exactly one line on stderr, the documented exit code, and
//     leave nothing half-written; and runs against a real Dovecot.

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"mailfetch": main})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
			return os.MkdirAll(home, 0o700)
		},
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exitcode": cmdExitCode},
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// cmdExitCode is the script command "exitcode N PROGRAM [ARGS...]": it runs
// PROGRAM like exec and fails unless it exits with code N. stdout and
// stderr are then checked as after exec.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with code %d, want %d", args[1], got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes: the reporter and
// the --trace writer (one per connection) write stderr from several
// goroutines, as they may to os.Stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliEnv is one test's world: HOME, XDG_CONFIG_HOME and XDG_STATE_HOME in
// a directory of its own. Tests that use it cannot run in parallel
// (t.Setenv).
type cliEnv struct {
	dir       string
	config    string // the default config file: XDG_CONFIG_HOME/mailfetch/config.toml
	stateHome string // XDG_STATE_HOME
	mail      string // dir/Mail: the Maildir of the table's configs
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	e := &cliEnv{
		dir:       dir,
		config:    filepath.Join(dir, "config", "mailfetch", "config.toml"),
		stateHome: filepath.Join(dir, "state"),
		mail:      filepath.Join(dir, "Mail"),
	}
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_STATE_HOME", e.stateHome)
	t.Setenv("MAILFETCH_CONFIG", "")
	os.Unsetenv("MAILFETCH_CONFIG")
	return e
}

// stateDir is the default state directory of account name.
func (e *cliEnv) stateDir(name string) string {
	return filepath.Join(e.stateHome, "mailfetch", name)
}

// writeConfig writes the default config file with mode, after replacing
// {{DIR}}, {{MAIL}} and {{PORT}} (a port on which nothing listens).
func (e *cliEnv) writeConfig(t *testing.T, text string, mode os.FileMode) {
	t.Helper()
	text = strings.NewReplacer("{{DIR}}", e.dir, "{{MAIL}}", e.mail, "{{PORT}}", strconv.Itoa(closedPort(t))).Replace(text)
	if err := os.MkdirAll(filepath.Dir(e.config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.config, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// closedPort returns a loopback port that refuses connections: it was free
// a moment ago.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// runCLI runs mailfetch with args in this process and returns its exit
// code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	code = run(ctx, append([]string{"mailfetch"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// oneErrorLine fails unless stderr is exactly one line "mailfetch: ...".
func oneErrorLine(t *testing.T, stderr string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "mailfetch: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one line starting with %q:\n%s", "mailfetch: ", stderr)
	}
}

// entries lists the names in dir; nil if it does not exist.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// noState fails if the account's state directory holds anything but its
// lock file (the lock is taken first, before any input is checked, and
// holds no state) and the files in also.
func noState(t *testing.T, e *cliEnv, name string, also ...string) {
	t.Helper()
	for _, n := range entries(t, e.stateDir(name)) {
		if n != "lock" && !slices.Contains(also, n) {
			t.Errorf("state directory %s holds %q", e.stateDir(name), n)
		}
	}
	for _, n := range entries(t, filepath.Join(e.stateHome, "mailfetch")) {
		if n != name {
			t.Errorf("state directory of an unknown account: %s", filepath.Join(e.stateHome, "mailfetch", n))
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes at dir (read-only if ro) for the
// test, or skips the test when this process may not mount (not root).
func mountTmpfs(t *testing.T, dir string, size int, ro bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var flags uintptr
	if ro {
		flags = syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("mount tmpfs: %v (no CAP_SYS_ADMIN here)", err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

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

// holdLock takes the lock at path for the rest of the test, as another
// mailfetch run would.
func holdLock(t *testing.T, path string) (release func() error) {
	t.Helper()
	release, err := config.Lock(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release() })
	return release
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

// serverPassword is every test user's password: distinctive, so that a
// transcript or message that shows it is caught.
const serverPassword = "Tr4ce-Me-N0t.4711"

// serverEnv is a cliEnv with a Dovecot.
type serverEnv struct {
	*cliEnv
	srv    *dovetest.Server
	pwFile string // holds serverPassword
}

// cliServer starts one Dovecot for a test's subtests. Each subtest uses
// users of its own, so that subtests see only their own mail.
func cliServer(t *testing.T, users ...string) *dovetest.Server {
	t.Helper()
	var us []dovetest.User
	for _, u := range users {
		us = append(us, dovetest.User{Name: u, Password: serverPassword})
	}
	return dovetest.Start(t, dovetest.Options{Users: us})
}

func newServerEnv(t *testing.T, srv *dovetest.Server) *serverEnv {
	t.Helper()
	e := &serverEnv{cliEnv: newCLIEnv(t), srv: srv, pwFile: ""}
	e.pwFile = e.passwordFile(t, "pw", serverPassword)
	return e
}

func (e *serverEnv) passwordFile(t *testing.T, name, password string) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// maildir is where account name delivers.
func (e *serverEnv) maildir(name string) string { return filepath.Join(e.dir, "Mail", name) }

// account is the config table of account name (protocol "pop3" or
// "imap") for user on the server: POP3 with STARTTLS on the plain port,
// IMAP with implicit TLS, both trusting the server's CA file.
func (e *serverEnv) account(name, protocol, user string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[account.%s]\nprotocol = %q\nhost = %q\n", name, protocol, e.srv.Host)
	if protocol == "pop3" {
		fmt.Fprintf(&b, "port = %d\ntls = \"starttls\"\n", e.srv.POP3Port)
	} else {
		fmt.Fprintf(&b, "port = %d\n", e.srv.IMAPSPort)
	}
	fmt.Fprintf(&b, "ca-file = %q\nuser = %q\npassword-file = %q\nmaildir = %q\n", e.srv.CAFile, user, e.pwFile, e.maildir(name))
	for _, x := range extra {
		b.WriteString(x + "\n")
	}
	return b.String()
}

func (e *serverEnv) config(t *testing.T, accounts ...string) {
	t.Helper()
	e.writeConfig(t, strings.Join(accounts, "\n"), 0o600)
}

// testMessages returns n messages with LF line ends, as Dovecot stores
// them, whose Subject and Message-ID name tag and their index.
func testMessages(tag string, n int, flags ...string) []dovetest.Message {
	msgs := make([]dovetest.Message, n)
	for i := range msgs {
		msgs[i].Raw = fmt.Appendf(nil, "From: Ann Example <ann@example.com>\n"+
			"To: me@example.net\n"+
			"Subject: %[1]s message %[2]d\n"+
			"Message-ID: <%[2]d.%[1]s@example.net>\n"+
			"Date: Wed, 25 Nov 2026 10:%02[2]d:00 +0000\n"+
			"MIME-Version: 1.0\n"+
			"Content-Type: text/plain; charset=utf-8\n"+
			"\n"+
			"Message %[2]d of %[1]s.\n"+
			".\n"+
			"..a line that starts with a dot\n"+
			"From the start of a line\n", tag, i)
		if i < len(flags) {
			msgs[i].Flags = flags[i]
		}
	}
	return msgs
}

func raws(msgs []dovetest.Message) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Raw
	}
	return out
}

// delivered returns the messages in new/ and cur/ of the Maildir folder
// dir, by file name.
func delivered(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"new", "cur"} {
		for _, name := range entries(t, filepath.Join(dir, sub)) {
			data, err := os.ReadFile(filepath.Join(dir, sub, name))
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Join(sub, name)] = data
		}
	}
	return out
}

// sameMessages fails unless the folder dir holds exactly want, each once.
func sameMessages(t *testing.T, dir string, want [][]byte) {
	t.Helper()
	var got [][]byte
	for _, data := range delivered(t, dir) {
		got = append(got, data)
	}
	w := slices.Clone(want)
	slices.SortFunc(got, bytes.Compare)
	slices.SortFunc(w, bytes.Compare)
	if len(got) != len(w) {
		t.Errorf("%s holds %d messages, want %d", dir, len(got), len(w))
		return
	}
	for i := range got {
		if !bytes.Equal(got[i], w[i]) {
			t.Errorf("%s: message differs from the server's:\n%q\nwant\n%q", dir, got[i], w[i])
			return
		}
	}
}

func mustSeed(t *testing.T, srv *dovetest.Server, user, mailbox string, msgs []dovetest.Message) {
	t.Helper()
	if err := srv.Seed(user, mailbox, msgs); err != nil {
		t.Fatal(err)
	}
}

func mustCount(t *testing.T, srv *dovetest.Server, user, mailbox string) int {
	t.Helper()
	n, err := srv.Count(user, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantRun(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, args...)
	if code != wantCode {
		t.Fatalf("mailfetch %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return stdout, stderr
}

// The CLI against a real Dovecot: configs as a user writes them, runs
// through run().
func TestDovecotCLI(t *testing.T) {
	srv := cliServer(t, "p-flow", "p-json", "p-quiet", "p-dry", "i-dry", "p-auth", "i-sync",
		"p-check", "i-check", "p-trace", "i-trace", "p-wait")

	t.Run("pop3 delivers, deletes, then has no new mail", func(t *testing.T) {
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-flow"))
		msgs := testMessages("flow", 5)
		mustSeed(t, srv, "p-flow", "INBOX", msgs)
		stdout, stderr := wantRun(t, 0, "pop3")
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
		if stdout, stderr := wantRun(t, 0, "pop3"); stdout != "pop: no new mail\n" || stderr != "" {
			t.Errorf("second run: stdout %q, stderr %q", stdout, stderr)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
	})

	t.Run("pop3 --json", func(t *testing.T) {
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-json"))
		msgs := testMessages("json", 3)
		mustSeed(t, srv, "p-json", "INBOX", msgs)
		stdout, stderr := wantRun(t, 0, "pop3", "--json")
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
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-quiet"))
		msgs := testMessages("quiet", 3)
		mustSeed(t, srv, "p-quiet", "INBOX", msgs[:2])
		if stdout, stderr := wantRun(t, 0, "pop3", "--quiet"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		mustSeed(t, srv, "p-quiet", "INBOX", msgs[2:])
		// A run flag works before the command too.
		if stdout, stderr := wantRun(t, 0, "--quiet", "pop3"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		// No mail: still nothing.
		if stdout, stderr := wantRun(t, 0, "-q", "pop3"); stdout != "" || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
		sameMessages(t, e.maildir("pop"), raws(msgs))
	})

	t.Run("--dry-run writes nothing", func(t *testing.T) {
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
		stdout, stderr := wantRun(t, 0, "pop3", "--dry-run")
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
		stdout, stderr = wantRun(t, 0, "imap", "sync", "-n")
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
		stdout, _ = wantRun(t, 0, "pop3", "--dry-run", "--json")
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
		e := newServerEnv(t, srv)
		e.pwFile = e.passwordFile(t, "wrong", "not-"+serverPassword)
		e.config(t, e.account("pop", "pop3", "p-auth"), e.account("imap", "imap", "p-auth"))
		mustSeed(t, srv, "p-auth", "INBOX", testMessages("auth", 2))
		for _, args := range [][]string{{"pop3"}, {"imap", "sync"}, {"accounts", "--check", "--account", "imap"}} {
			code, stdout, stderr := runCLI(t, args...)
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
		if code, _, stderr := runCLI(t, "accounts", "--check"); code != 3 {
			t.Errorf("one of two accounts failing: exit code %d, want 3; stderr:\n%s", code, stderr)
		}
	})

	t.Run("imap sync, then imap list", func(t *testing.T) {
		e := newServerEnv(t, srv)
		e.config(t, e.account("imap", "imap", "i-sync"))
		inbox := testMessages("inbox", 3, "", "S", "FS")
		work := testMessages("work", 2, "R")
		reports := testMessages("reports", 1, "S")
		mustSeed(t, srv, "i-sync", "INBOX", inbox)
		mustSeed(t, srv, "i-sync", "Work", work)
		mustSeed(t, srv, "i-sync", "Work/Reports", reports)
		stdout, stderr := wantRun(t, 0, "imap", "sync")
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
		if stdout, _ := wantRun(t, 0, "imap", "sync"); stdout != "imap: no new mail\n" {
			t.Errorf("second sync: %q", stdout)
		}

		stdout, stderr = wantRun(t, 0, "imap", "list")
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
		stdout, _ = wantRun(t, 0, "imap", "list", "--json")
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

	t.Run("accounts --check", func(t *testing.T) {
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-check"), e.account("imap", "imap", "i-check"))
		mustSeed(t, srv, "p-check", "INBOX", testMessages("check", 2))
		mustSeed(t, srv, "i-check", "Work", testMessages("check", 1))
		stdout, stderr := wantRun(t, 0, "accounts", "--check")
		if stderr != "" {
			t.Errorf("stderr %q", stderr)
		}
		for _, w := range []string{
			"pop (pop3)\n", fmt.Sprintf("server:    127.0.0.1:%d, tls starttls", srv.POP3Port), "check:     ok: 2 messages, ",
			"imap (imap)\n", fmt.Sprintf("server:    127.0.0.1:%d, tls implicit", srv.IMAPSPort), "check:     ok: 2 folders",
			"password from file " + e.pwFile,
		} {
			if !strings.Contains(stdout, w) {
				t.Errorf("stdout does not say %q:\n%s", w, stdout)
			}
		}
		stdout, _ = wantRun(t, 0, "accounts", "--check", "--json")
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var v struct{ Type, Account, Check, Error string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if v.Type != "account" || !strings.HasPrefix(v.Check, "ok: ") || v.Error != "" {
				t.Errorf("--json: %s", line)
			}
			n++
		}
		if n != 2 {
			t.Errorf("--json: %d accounts:\n%s", n, stdout)
		}
		if strings.Contains(stdout, serverPassword) {
			t.Error("the output shows the password")
		}
	})

	t.Run("--trace never shows the password", func(t *testing.T) {
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
			stdout, stderr := wantRun(t, 0, args...)
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
		_, stderr := wantRun(t, 0, "pop3", "--trace", "--auth", "plain")
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "<redacted>") {
				t.Logf("pop3 transcript: %s", line)
			}
		}
	})

	t.Run("--wait takes the lock once it is released", func(t *testing.T) {
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-wait"))
		msgs := testMessages("wait", 2)
		mustSeed(t, srv, "p-wait", "INBOX", msgs)
		release := holdLock(t, e.cliEnv.stateDir("pop")+"/lock")
		code, _, stderr := runCLI(t, "pop3")
		if code != 4 {
			t.Fatalf("exit code %d with the lock held, want 4", code)
		}
		oneErrorLine(t, stderr)
		timer := time.AfterFunc(300*time.Millisecond, func() { release() })
		defer timer.Stop()
		start := time.Now()
		stdout, _ := wantRun(t, 0, "pop3", "--wait=2s")
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

	code, stdout, stderr := runCLI(t, "pop3")
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
	stdout, _ = wantRun(t, 0, "pop3")
	if !strings.Contains(stdout, fmt.Sprintf("%d new", len(msgs)-len(first))) {
		t.Errorf("second run: %q", stdout)
	}
	sameMessages(t, root, raws(msgs))
	if n := mustCount(t, srv, "p-disk", "INBOX"); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
}

// The trust edges through the CLI: the same IMAP account pointed at a new
// Maildir with --expunge-remote deletes nothing on the server (the dry run
// says so first), and a real mass deletion is held back with exit 5 until
// --allow-mass-delete.
func TestDovecotCLITrustEdges(t *testing.T) {
	srv := cliServer(t, "i-edge")
	e := newServerEnv(t, srv)
	e.config(t, e.account("work", "imap", "i-edge"))
	msgs := testMessages("edge", 40)
	mustSeed(t, srv, "i-edge", "INBOX", msgs)
	wantRun(t, 0, "imap", "sync")
	sameMessages(t, e.maildir("work"), raws(msgs))

	// Another Maildir: the state does not describe it.
	other := filepath.Join(e.dir, "Other")
	stdout, stderr := wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote", "--dry-run")
	if strings.Contains(stdout+stderr, "would delete") || !strings.Contains(stdout+stderr, "is new or empty") {
		t.Errorf("dry run over another Maildir:\nstdout %s\nstderr %s", stdout, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("the dry run created the Maildir")
	}
	wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote")
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
	code, stdout, stderr := runCLI(t, "imap", "sync", "--maildir", other, "--expunge-remote")
	if code != 5 || !strings.Contains(stderr, "refusing to delete 30 of the 40 messages on the server") || !strings.Contains(stderr, "--allow-mass-delete") {
		t.Fatalf("mass deletion: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if n := mustCount(t, srv, "i-edge", "INBOX"); n != len(msgs) {
		t.Fatalf("the guard let %d messages go", len(msgs)-n)
	}
	wantRun(t, 0, "imap", "sync", "--maildir", other, "--expunge-remote", "--allow-mass-delete")
	if n := mustCount(t, srv, "i-edge", "INBOX"); n != 10 {
		t.Errorf("with consent the server has %d messages, want 10", n)
	}
}
