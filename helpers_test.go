package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
//     man, and the process's exit codes on bad usage (cmd_docs_test.go).
//   - Go tests call run() directly: a table of bad inputs, each of which
//     must give exactly one line on stderr, the documented exit code, and
//     leave nothing half-written (main_test.go); runs of each command
//     against a real Dovecot (cmd_*_test.go, session_test.go); the edges
//     of a run (edges_test.go).
//
// This file holds what they share.

func TestMain(m *testing.M) {
	testscript.Main(sandboxed{m}, map[string]func(){"mailfetch": main})
}

// sandboxed runs the tests with HOME and the XDG directories in a
// temporary directory and MAILFETCH_CONFIG unset, so that no test reads or
// writes the real ones, whatever it forgets to set. It is not used when
// this binary runs as "mailfetch".
type sandboxed struct{ m *testing.M }

func (s sandboxed) Run() int {
	dir, err := os.MkdirTemp("", "mailfetch-test-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("HOME", filepath.Join(dir, "home"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	os.Unsetenv("MAILFETCH_CONFIG")
	return s.m.Run()
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
// a directory of its own, where mailfetch finds its config file and keeps
// its state by default.
//
// A serial test (newCLIEnv) points the process's variables there and runs
// mailfetch in this process (run). A parallel test (newParallelEnv) can
// do neither: it may not change the process's environment (t.Setenv),
// and urfave/cli v2 keeps parts of every app in package variables (the
// help flag, the help command), so that two apps running at once in one
// process race. Its runs (e.runCLI, e.wantRun, e.startBinary) are the
// real binary, with the variables in its environment: what a user runs.
type cliEnv struct {
	dir       string
	config    string // the default config file: XDG_CONFIG_HOME/mailfetch/config.toml
	stateHome string // XDG_STATE_HOME
	mail      string // dir/Mail: the Maildir of the table's configs
	parallel  bool   // newParallelEnv: runs are the real binary
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := newParallelEnv(t)
	e.parallel = false
	t.Setenv("HOME", filepath.Join(e.dir, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(e.dir, "config"))
	t.Setenv("XDG_STATE_HOME", e.stateHome)
	t.Setenv("MAILFETCH_CONFIG", "")
	os.Unsetenv("MAILFETCH_CONFIG")
	return e
}

// newParallelEnv is a cliEnv for a test that runs in parallel with others.
func newParallelEnv(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	return &cliEnv{
		dir:       dir,
		config:    filepath.Join(dir, "config", "mailfetch", "config.toml"),
		stateHome: filepath.Join(dir, "state"),
		mail:      filepath.Join(dir, "Mail"),
		parallel:  true,
	}
}

// stateDir is the default state directory of account name.
func (e *cliEnv) stateDir(name string) string {
	return filepath.Join(e.stateHome, "mailfetch", name)
}

// environ is the environment of the real binary run in e: the process's,
// with HOME and the XDG directories in e.
func (e *cliEnv) environ() []string {
	return append(os.Environ(), "HOME="+filepath.Join(e.dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(e.dir, "config"), "XDG_STATE_HOME="+e.stateHome)
}

// runCLI runs mailfetch with args in e and returns its exit code and
// output: in this process in a serial test, as the real binary in a
// parallel one.
func (e *cliEnv) runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return e.runCLIWithin(t, 3*time.Minute, args...)
}

// runCLIWithin is runCLI with a bound of its own: a run that would hang on
// the code before a change ends the test in time, with a failure.
func (e *cliEnv) runCLIWithin(t *testing.T, limit time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out, errOut syncBuffer
	if !e.parallel {
		code = run(ctx, append([]string{"mailfetch"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	bin, err := exec.LookPath("mailfetch")
	if err != nil {
		t.Fatalf("the mailfetch binary is not in PATH: %v", err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e.environ()
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var ee *exec.ExitError
	switch err := cmd.Run(); {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("mailfetch %s: %v (within %v)\nstderr:\n%s", strings.Join(args, " "), err, limit, errOut.String())
	}
	return code, out.String(), errOut.String()
}

// wantRun runs mailfetch in e (see runCLI) and fails the test unless it
// exits with wantCode.
func (e *cliEnv) wantRun(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := e.runCLI(t, args...)
	if code != wantCode {
		t.Fatalf("mailfetch %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return stdout, stderr
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

// serverPassword is every test user's password: distinctive, so that a
// transcript or message that shows it is caught.
const serverPassword = "Tr4ce-Me-N0t.4711"

// serverEnv is a cliEnv with a Dovecot.
type serverEnv struct {
	*cliEnv
	srv    *dovetest.Server
	pwFile string // holds serverPassword
}

// cliServer starts one Dovecot for a test and its subtests. Each subtest
// uses users of its own, so that subtests see only their own mail. (One
// server shared by the whole package was no faster: measured 28.5-33.7 s
// against 29.5-32.0 s for the package on a loaded machine; the servers
// start while other tests run.)
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
	e := &serverEnv{cliEnv: newParallelEnv(t), srv: srv, pwFile: ""}
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
