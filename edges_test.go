package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/mailfetch/mailfetch/internal/config"
	"github.com/mailfetch/mailfetch/internal/dovetest"
)

// Tests of the edges of a run: servers that never finish, signals,
// failures that last, exit codes that tell the truth, secrets that stay
// in. In-process fake servers stand in where a real one will not
// misbehave; the rest runs against Dovecot.

// fakeServer accepts connections on 127.0.0.1 and runs handle for each;
// the test's end closes everything and waits for the handlers, which must
// return when done is closed or their connection fails.
func fakeServer(t *testing.T, handle func(c net.Conn, done <-chan struct{})) (port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c, done)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// fakePOP3 is a small POP3 server (USER/PASS, UIDL, RETR, DELE committed
// at QUIT) that can stall in the middle of a message.
type fakePOP3 struct {
	port int

	mu   sync.Mutex
	live []int    // indices into msgs still in the maildrop
	msgs [][]byte // LF line ends; sent with CRLF
	// stallAt, when > 0, makes RETR of that message (1-based, in a
	// session) send half of it and then nothing more; stalled is closed
	// when it did.
	stallAt   int
	stalled   chan struct{}
	stallOnce sync.Once
}

func newFakePOP3(t *testing.T, msgs [][]byte) *fakePOP3 {
	t.Helper()
	f := &fakePOP3{msgs: msgs, stalled: make(chan struct{})}
	for i := range msgs {
		f.live = append(f.live, i)
	}
	f.port = fakeServer(t, f.serve)
	return f
}

func (f *fakePOP3) setStall(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallAt = n
}

func (f *fakePOP3) left() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.live)
}

func (f *fakePOP3) serve(c net.Conn, done <-chan struct{}) {
	br := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(format string, args ...any) bool {
		fmt.Fprintf(w, format, args...)
		return w.Flush() == nil
	}
	f.mu.Lock()
	live := slices.Clone(f.live)
	stallAt := f.stallAt
	f.mu.Unlock()
	msg := func(arg []string) (int, []byte, bool) {
		if len(arg) < 2 {
			return 0, nil, false
		}
		n, err := strconv.Atoi(arg[1])
		if err != nil || n < 1 || n > len(live) {
			return 0, nil, false
		}
		return n, dovetest.CRLF(f.msgs[live[n-1]]), true
	}
	marked := map[int]bool{}
	if !reply("+OK fake POP3 ready\r\n") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		arg := strings.Fields(line)
		if len(arg) == 0 {
			arg = []string{""}
		}
		switch strings.ToUpper(arg[0]) {
		case "CAPA":
			reply("+OK\r\nUSER\r\nUIDL\r\n.\r\n")
		case "USER", "PASS", "NOOP", "RSET":
			reply("+OK\r\n")
		case "STAT":
			size := 0
			for _, i := range live {
				size += len(dovetest.CRLF(f.msgs[i]))
			}
			reply("+OK %d %d\r\n", len(live), size)
		case "UIDL", "LIST":
			fmt.Fprintf(w, "+OK\r\n")
			for n, i := range live {
				if strings.EqualFold(arg[0], "UIDL") {
					fmt.Fprintf(w, "%d u%d\r\n", n+1, i)
				} else {
					fmt.Fprintf(w, "%d %d\r\n", n+1, len(dovetest.CRLF(f.msgs[i])))
				}
			}
			reply(".\r\n")
		case "RETR":
			n, body, ok := msg(arg)
			if !ok {
				reply("-ERR no such message\r\n")
				continue
			}
			if n == stallAt {
				reply("+OK\r\n%s", body[:len(body)/2])
				f.stallOnce.Do(func() { close(f.stalled) })
				<-done
				return
			}
			reply("+OK\r\n%s.\r\n", body)
		case "DELE":
			n, _, ok := msg(arg)
			if !ok {
				reply("-ERR no such message\r\n")
				continue
			}
			marked[live[n-1]] = true
			reply("+OK\r\n")
		case "QUIT":
			f.mu.Lock()
			f.live = slices.DeleteFunc(f.live, func(i int) bool { return marked[i] })
			f.mu.Unlock()
			reply("+OK bye\r\n")
			return
		default:
			reply("-ERR unknown command\r\n")
		}
	}
}

// fakeAccount is the config of a POP3 account at a fake server on port,
// without TLS, delivering into maildir.
func fakeAccount(name string, port int, maildir string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[account.%s]\nprotocol = \"pop3\"\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\nallow-plaintext = true\n"+
		"user = \"me\"\npassword-command = \"echo pw\"\n", name, port)
	if maildir != "" {
		fmt.Fprintf(&b, "maildir = %q\n", maildir)
	}
	for _, x := range extra {
		b.WriteString(x + "\n")
	}
	return b.String()
}

// plainMessages are n small messages with LF line ends.
func plainMessages(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "From: ann@example.com\nSubject: %s %d\nMessage-ID: <%d.%s@example.net>\n\n%s\n",
			tag, i, i, tag, strings.Repeat(fmt.Sprintf("line of message %d of %s\n", i, tag), 40))
	}
	return out
}

// A server that trickles a byte at a time never goes silent, so the idle
// timeout never ends the run: the minimum transfer rate does, with 75 and
// a line that says how little came in how long.
func TestTricklingServer(t *testing.T) {
	t.Parallel()
	e := newParallelEnv(t)
	port := fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		if _, err := io.WriteString(c, "+OK "); err != nil {
			return
		}
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	})
	// 4 s: a window of 4 s and a trickle gap of 2 s, so that a loaded
	// machine that stalls the server for a second still sees a trickle.
	e.writeConfig(t, fakeAccount("slow", port, e.mail, `timeout = "4s"`), 0o600)
	code, stdout, stderr := e.runCLIWithin(t, 30*time.Second, "pop3")
	if code != 75 {
		t.Fatalf("exit code %d, want 75; stderr:\n%s", code, stderr)
	}
	oneErrorLine(t, stderr)
	for _, want := range []string{"mailfetch: slow: ", fmt.Sprintf("read from 127.0.0.1:%d: timeout: the server sent only ", port), " bytes in ", "less than 1 KiB per timeout"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q: %s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
}

// A server that keeps sending at a fair rate but never finishes (an
// endless CAPA) is ended by the run's deadline: the run stops as on
// Ctrl-C, exits 75 and names the deadline.
func TestDeadline(t *testing.T) {
	t.Parallel()
	e := newParallelEnv(t)
	port := fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		if _, err := io.WriteString(c, "+OK ready\r\n"); err != nil {
			return
		}
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "CAPA") {
			return
		}
		io.WriteString(c, "+OK\r\n")
		filler := strings.Repeat("x", 200)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := fmt.Fprintf(c, "X-FILLER-%d %s\r\n", i, filler); err != nil {
				return
			}
		}
	})
	e.writeConfig(t, fakeAccount("endless", port, e.mail, `timeout = "5s"`), 0o600)
	code, stdout, stderr := e.runCLIWithin(t, 30*time.Second, "pop3", "--deadline", "1s", "--json")
	if code != 75 {
		t.Fatalf("exit code %d, want 75; stderr:\n%s", code, stderr)
	}
	oneErrorLine(t, stderr)
	if want := "mailfetch: endless: the run passed its deadline of 1s (deadline): stopped safely"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want %q...", stderr, want)
	}
	var sum struct {
		ExitCode int `json:"exit_code"`
		Accounts []struct {
			ErrorKind string `json:"error_kind"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.ExitCode != 75 || len(sum.Accounts) != 1 || sum.Accounts[0].ErrorKind != "temporary" {
		t.Errorf("--json summary %q (%v)", stdout, err)
	}
	// Consistent: an empty Maildir, nothing in tmp/, and the failure
	// counted like any other temporary one.
	for _, sub := range []string{"tmp", "new", "cur"} {
		if got := entries(t, filepath.Join(e.mail, sub)); len(got) > 0 {
			t.Errorf("%s/ holds %q", sub, got)
		}
	}
	if rec, ok := failingSince(&config.Account{StateDir: e.stateDir("endless")}); !ok || rec.Runs != 1 {
		t.Errorf("failure record %+v, %v", rec, ok)
	}

	// 0 is no deadline; a negative one is a usage error.
	code, _, stderr = e.runCLIWithin(t, 30*time.Second, "pop3", "--deadline", "-1s")
	if code != 64 || !strings.Contains(stderr, "deadline -1s must not be negative (0: no deadline)") {
		t.Errorf("--deadline -1s: exit %d, %s", code, stderr)
	}
}

// startBinary starts the real mailfetch (this test binary, as testscript
// installs it in PATH) with args in e (HOME and the XDG directories in its
// environment), its stdout read line by line.
func (e *cliEnv) startBinary(t *testing.T, args ...string) (cmd *exec.Cmd, stdout *bufio.Scanner, stderr *syncBuffer) {
	t.Helper()
	bin, err := exec.LookPath("mailfetch")
	if err != nil {
		t.Fatalf("the mailfetch binary is not in PATH: %v", err)
	}
	cmd = exec.Command(bin, args...)
	cmd.Env = e.environ()
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, bufio.NewScanner(out), stderr
}

// waitFor waits for ch, and fails the test if that takes longer than a
// minute (the bound is for a broken run, not a timing assertion).
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
	}
}

// SIGTERM in the middle of a message: the run stops safely, says so in
// one line and exits 143; the next run delivers every message exactly
// once, and deletes each only then.
func TestSignalStopsPOP3(t *testing.T) {
	t.Parallel()
	e := newParallelEnv(t)
	msgs := plainMessages("term", 3)
	f := newFakePOP3(t, msgs)
	f.setStall(2)
	e.writeConfig(t, fakeAccount("pop", f.port, e.mail), 0o600)

	cmd, stdout, stderr := e.startBinary(t, "pop3", "--json")
	waitFor(t, f.stalled, "RETR that stalled") // mailfetch is in the middle of message 2
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for stdout.Scan() {
		lines = append(lines, stdout.Text())
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("exit: %v, want code 143; stderr:\n%s", err, stderr)
	}
	oneErrorLine(t, stderr.String())
	if want := "mailfetch: pop: interrupted by SIGTERM: stopped safely; what was fetched is kept, and the next run goes on\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], `"exit_code":143`) || !strings.Contains(lines[len(lines)-1], `"error_kind":"terminated"`) {
		t.Errorf("--json does not end with the summary of a terminated run:\n%s", strings.Join(lines, "\n"))
	}
	if f.left() != len(msgs) {
		t.Errorf("%d messages left on the server, want all %d: nothing is deleted by a stopped run", f.left(), len(msgs))
	}
	if got := entries(t, filepath.Join(e.mail, "tmp")); len(got) > 0 {
		t.Errorf("tmp/ holds %q", got)
	}
	for name, data := range delivered(t, e.mail) {
		if !slices.ContainsFunc(msgs, func(m []byte) bool { return bytes.Equal(m, data) }) {
			t.Errorf("%s is not a complete message", name)
		}
	}

	f.setStall(0)
	e.wantRun(t, 0, "pop3")
	sameMessages(t, e.mail, msgs)
	if f.left() != 0 {
		t.Errorf("%d messages left on the server", f.left())
	}
}

// throttle is a TCP proxy to addr that passes the server's bytes on at
// about 20 KiB/s per connection: slow enough that a sync of a few hundred
// KiB is still going when the test stops it, fast enough for the minimum
// transfer rate.
func throttle(t *testing.T, addr string) (port int) {
	t.Helper()
	return fakeServer(t, func(c net.Conn, done <-chan struct{}) {
		s, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer s.Close()
		go func() {
			// The client went (or the test ended): so does the
			// connection to the server, which would otherwise wait.
			io.Copy(s, c)
			s.Close()
		}()
		buf := make([]byte, 1024)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// Ctrl-C while several folders sync: one line for the run, not one per
// folder, and exit 130; the next sync completes, every message once.
func TestSignalStopsIMAPSync(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "i-sigint")
	e := newServerEnv(t, srv)
	inbox := testMessages("sig-inbox", 1)
	big := func(tag string) []dovetest.Message {
		msgs := testMessages(tag, 8)
		for i := range msgs {
			msgs[i].Raw = append(msgs[i].Raw, bytes.Repeat([]byte("a line to make the message worth a while\n"), 500)...)
		}
		return msgs
	}
	work, archive := big("sig-work"), big("sig-archive")
	mustSeed(t, srv, "i-sigint", "INBOX", inbox)
	mustSeed(t, srv, "i-sigint", "Work", work)
	mustSeed(t, srv, "i-sigint", "Archive", archive)
	port := throttle(t, srv.IMAPSAddr())
	e.config(t, strings.Replace(e.account("imap", "imap", "i-sigint"), fmt.Sprintf("port = %d", srv.IMAPSPort), fmt.Sprintf("port = %d", port), 1))

	cmd, stdout, stderr := e.startBinary(t, "imap", "sync", "--json")
	first := make(chan struct{})
	var lines []string
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		for stdout.Scan() {
			lines = append(lines, stdout.Text())
			if strings.Contains(stdout.Text(), `"type":"message"`) && len(lines) > 0 {
				select {
				case <-first:
				default:
					close(first)
				}
			}
		}
	}()
	waitFor(t, first, "message delivered")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-scanned
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want code 130; stderr:\n%s", err, stderr)
	}
	oneErrorLine(t, stderr.String())
	if want := "mailfetch: imap: interrupted by SIGINT: stopped safely"; !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr %q, want %q...", stderr, want)
	}
	if n := strings.Count(strings.Join(lines, "\n"), `"type":"error"`); n > 0 {
		t.Errorf("%d error objects for the folders stopped:\n%s", n, strings.Join(lines, "\n"))
	}
	t.Logf("stopped after %d lines of output", len(lines))

	e.wantRun(t, 0, "imap", "sync")
	root := e.maildir("imap")
	sameMessages(t, root, raws(inbox))
	sameMessages(t, filepath.Join(root, ".Work"), raws(work))
	sameMessages(t, filepath.Join(root, ".Archive"), raws(archive))
}

// writeFailing writes the failure record of account name as a run would
// have left it.
func writeFailing(t *testing.T, e *cliEnv, name string, rec failingRecord) {
	t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.stateDir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.stateDir(name), failingFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFailing(t *testing.T, e *cliEnv, name string) (failingRecord, bool) {
	t.Helper()
	return failingSince(&config.Account{StateDir: e.stateDir(name)})
}

// Temporary failures that go on: each run is counted; once they have
// lasted longer than fail-after the run exits 69 and says since when. A
// dry run neither reads nor counts; a run that succeeds, or fails
// otherwise, ends the record.
func TestFailAfter(t *testing.T) {
	e := newCLIEnv(t)
	e.writeConfig(t, popAccount, 0o600) // nothing listens on its port

	code, _, stderr := runCLI(t, "pop3")
	if code != 75 {
		t.Fatalf("exit code %d, want 75: %s", code, stderr)
	}
	rec, ok := readFailing(t, e, "home")
	if !ok || rec.Runs != 1 || time.Since(rec.Since) > time.Minute {
		t.Fatalf("after one failure: record %+v, %v", rec, ok)
	}
	code, _, _ = runCLI(t, "pop3")
	if rec2, _ := readFailing(t, e, "home"); code != 75 || rec2.Runs != 2 || !rec2.Since.Equal(rec.Since) {
		t.Errorf("after two failures: exit %d, record %+v", code, rec2)
	}

	// A day and an hour ago, 287 runs: this run is the 288th.
	since := time.Now().Add(-25 * time.Hour).Truncate(time.Minute)
	writeFailing(t, e, "home", failingRecord{Since: since, Runs: 287})
	code, stdout, stderr := runCLI(t, "pop3", "--json")
	if code != 69 {
		t.Fatalf("exit code %d, want 69: %s", code, stderr)
	}
	oneErrorLine(t, stderr)
	want := fmt.Sprintf("mailfetch: home: the account has failed temporarily since %s (288 runs, longer than fail-after 24h): dial 127.0.0.1:",
		since.Format("2006-01-02 15:04"))
	if !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "connection refused") {
		t.Errorf("stderr %q\nwant %q...connection refused", stderr, want)
	}
	if !strings.Contains(stdout, `"error_kind":"unavailable"`) || !strings.Contains(stdout, `"exit_code":69`) {
		t.Errorf("--json: %s", stdout)
	}
	// fail-after can be longer, or off.
	if code, _, _ := runCLI(t, "pop3", "--fail-after", "48h"); code != 75 {
		t.Errorf("--fail-after 48h: exit %d, want 75", code)
	}
	if code, _, _ := runCLI(t, "pop3", "--fail-after", "0"); code != 75 {
		t.Errorf("--fail-after 0: exit %d, want 75", code)
	}

	// A dry run neither reads nor counts.
	before, _ := readFailing(t, e, "home")
	if code, _, _ := runCLI(t, "pop3", "--dry-run"); code != 75 {
		t.Errorf("--dry-run: exit %d, want 75", code)
	}
	if after, _ := readFailing(t, e, "home"); after != before {
		t.Errorf("a dry run changed the record from %+v to %+v", before, after)
	}
	if out, _ := wantRun(t, 0, "accounts"); !strings.Contains(out, "failing:   temporary failures since "+since.Format("2006-01-02 15:04")) {
		t.Errorf("accounts does not show the failures:\n%s", out)
	}

	// A run that fails otherwise ends the streak.
	e.writeConfig(t, strings.Replace(popAccount, `password-command = "echo pw"`, `password-command = "exit 3"`, 1), 0o600)
	if code, _, _ := runCLI(t, "pop3"); code != 64 {
		t.Errorf("failing password-command: exit %d, want 64", code)
	}
	if rec, ok := readFailing(t, e, "home"); ok {
		t.Errorf("a run that failed otherwise left the record %+v", rec)
	}

	// So does one that succeeds.
	f := newFakePOP3(t, plainMessages("fail-after", 1))
	e.writeConfig(t, fakeAccount("home", f.port, e.mail), 0o600)
	writeFailing(t, e, "home", failingRecord{Since: since, Runs: 3})
	wantRun(t, 0, "pop3")
	if rec, ok := readFailing(t, e, "home"); ok {
		t.Errorf("a run that succeeded left the record %+v", rec)
	}
}

// A password-command that fails after printing the password on stderr:
// the password appears nowhere, and the message says how it failed.
func TestPasswordCommandStderrHidden(t *testing.T) {
	const secret = "s3cr3t-on-stderr-4711"
	e := newCLIEnv(t)
	// The secret comes from a file, so that the command's text (which
	// `accounts` shows) does not hold it.
	file := filepath.Join(e.dir, "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeConfig(t, strings.Replace(popAccount, `password-command = "echo pw"`,
		fmt.Sprintf(`password-command = "cat '%s' >&2; cat '%s'; exit 1"`, file, file), 1), 0o600)
	for _, args := range [][]string{{"pop3"}, {"pop3", "--json"}, {"pop3", "--verbose"}, {"accounts", "--check"}, {"accounts", "--check", "--json"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 64 {
			t.Errorf("%s: exit code %d, want 64", args, code)
		}
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("%s: the output shows the password:\nstdout: %s\nstderr: %s", args, stdout, stderr)
		}
		if want := "password-command failed (exit status 1); it printed 1 line on stderr, not shown as it could hold the password"; !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr does not say %q:\n%s", args, want, stderr)
		}
	}
}

// The variable that password-env names is not passed on to the mda, nor
// to what it runs; the rest of the environment is.
func TestMDAWithoutPasswordVariable(t *testing.T) {
	e := newCLIEnv(t)
	t.Setenv("MF_CLI_TEST_PASSWORD", "hunter2-in-the-env-4711")
	t.Setenv("MF_CLI_TEST_OTHER", "still-here")
	f := newFakePOP3(t, plainMessages("env", 1))
	envFile := filepath.Join(e.dir, "env")
	cfg := strings.Replace(fakeAccount("pop", f.port, ""), `password-command = "echo pw"`, `password-env = "MF_CLI_TEST_PASSWORD"`, 1) +
		fmt.Sprintf("mda = \"cat >/dev/null; sh -c env > '%s'\"\n", envFile)
	e.writeConfig(t, cfg, 0o600)
	wantRun(t, 0, "pop3")
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "MF_CLI_TEST_PASSWORD") || strings.Contains(string(env), "hunter2-in-the-env-4711") {
		t.Errorf("the mda's child got the password variable:\n%s", env)
	}
	if !strings.Contains(string(env), "MF_CLI_TEST_OTHER=still-here\n") {
		t.Errorf("the mda lost the rest of the environment:\n%s", env)
	}
}

// A host name that does not exist: 68, one line naming it. The name is
// under .invalid, which no resolver may resolve (RFC 6761); the test needs
// a resolver that says so, not one that cannot be reached.
func TestUnknownHost(t *testing.T) {
	const host = "no-such-host.mailfetch.invalid"
	var dns *net.DNSError
	if _, err := net.LookupHost(host); !errors.As(err, &dns) || !dns.IsNotFound {
		t.Skipf("this machine's resolver does not answer NXDOMAIN for %s (%v); transport's TestDialUnknownHost covers it with a fake one", host, err)
	}
	e := newCLIEnv(t)
	e.writeConfig(t, strings.Replace(popAccount, `host = "127.0.0.1"`, `host = "`+host+`"`, 1), 0o600)
	code, _, stderr := runCLI(t, "pop3")
	if code != 68 {
		t.Fatalf("exit code %d, want 68: %s", code, stderr)
	}
	oneErrorLine(t, stderr)
	if want := fmt.Sprintf(`no such host %q: check the host setting`, host); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
	// Not a temporary failure: not counted.
	if _, ok := readFailing(t, e, "home"); ok {
		t.Error("an unknown host was counted as a temporary failure")
	}
}

// Exit codes that tell the truth, against Dovecot: a certificate that is
// not trusted is 6 and names ca-file and fingerprint; implicit TLS against
// the plain-text port is 76 and says what to change.
func TestDovecotExitCodes(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "x-codes")
	e := newServerEnv(t, srv)
	pop := e.account("pop", "pop3", "x-codes")
	imap := e.account("imap", "imap", "x-codes")
	wrongPin := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		config string
		args   []string
		code   int
		want   []string
	}{
		{"IMAP, system roots", strings.Replace(imap, fmt.Sprintf("ca-file = %q\n", srv.CAFile), "", 1), []string{"imap", "sync"},
			6, []string{"mailfetch: imap: imap: dial 127.0.0.1:", "signed by unknown authority", "set ca-file or fingerprint to trust it"}},
		{"POP3 STARTTLS, system roots", strings.Replace(pop, fmt.Sprintf("ca-file = %q\n", srv.CAFile), "", 1), []string{"pop3"},
			6, []string{"mailfetch: pop: ", "signed by unknown authority", "set ca-file or fingerprint to trust it"}},
		{"IMAP, wrong pin", strings.Replace(imap, fmt.Sprintf("ca-file = %q\n", srv.CAFile), fmt.Sprintf("fingerprint = %q\n", wrongPin), 1), []string{"imap", "sync"},
			6, []string{"not the pinned", "set it as fingerprint"}},
		{"implicit TLS at the POP3 plain port", strings.Replace(pop, `tls = "starttls"`, `tls = "implicit"`, 1), []string{"pop3"},
			76, []string{fmt.Sprintf("port %d answered in plain text (\"+OK ", srv.POP3Port), "), not TLS: use --tls starttls, or port 995 for implicit TLS"}},
		{"implicit TLS at the IMAP plain port", strings.Replace(imap, fmt.Sprintf("port = %d", srv.IMAPSPort), fmt.Sprintf("port = %d", srv.IMAPPort), 1), []string{"imap", "sync"},
			76, []string{fmt.Sprintf("port %d answered in plain text (\"* OK \"), not TLS: use --tls starttls, or port 993 for implicit TLS", srv.IMAPPort)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.config(t, tc.config)
			code, stdout, stderr := e.runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			oneErrorLine(t, stderr)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}
