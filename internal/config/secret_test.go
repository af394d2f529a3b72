package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// noTerminal makes Secret run as if standard input were not a terminal,
// whatever `go test` was given.
var noTerminal = SecretOptions{stdinIsTerminal: func() bool { return false }}

func writeSecretFile(t *testing.T, data string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecret(t *testing.T) {
	const secret = "hunter2"
	t.Setenv("MF_TEST_SECRET", secret)
	t.Setenv("MF_TEST_EMPTY", "")
	os.Unsetenv("MF_TEST_UNSET")

	for _, tc := range []struct {
		name    string
		a       Account
		want    string   // the secret, when no error is expected
		wantErr []string // substrings of the error
	}{
		{name: "command first line only",
			a:    Account{PasswordCommand: "printf '" + secret + "\\nsecond line\\n'"},
			want: secret},
		{name: "command CRLF",
			a:    Account{PasswordCommand: "printf '" + secret + "\\r\\n'"},
			want: secret},
		{name: "command without newline",
			a:    Account{PasswordCommand: "printf " + secret},
			want: secret},
		{name: "command sees the account",
			a:    Account{Name: "acct", Host: "h.example", User: "u", PasswordCommand: `printf '%s|%s|%s\n' "$MAILFETCH_ACCOUNT" "$MAILFETCH_HOST" "$MAILFETCH_USER"`},
			want: "acct|h.example|u"},
		{name: "command failure counts stderr, shows neither it nor stdout",
			a:       Account{PasswordCommand: "echo " + secret + "; echo 'first complaint' >&2; echo 'gpg: decryption failed: No secret key' >&2; exit 3"},
			wantErr: []string{"password-command failed (exit status 3); it printed 2 lines on stderr, not shown as it could hold the password (run with --verbose on a terminal to see it)"}},
		{name: "command failure that printed the secret on stderr",
			a:       Account{PasswordCommand: "echo " + secret + " >&2; exit 1"},
			wantErr: []string{"password-command failed (exit status 1); it printed 1 line on stderr"}},
		{name: "command killed by a signal",
			a:       Account{PasswordCommand: "printf 'half a line' >&2; kill -SEGV $$"},
			wantErr: []string{"password-command failed (killed by signal SIGSEGV); it printed 1 line on stderr"}},
		{name: "command failure with silent stderr",
			a:       Account{PasswordCommand: "exit 1"},
			wantErr: []string{"password-command failed (exit status 1), with nothing on stderr"}},
		{name: "command not found",
			a:       Account{PasswordCommand: "mailfetch-no-such-command-xyz"},
			wantErr: []string{"exit status 127: the shell found no such command"}},
		{name: "command prints nothing",
			a:       Account{PasswordCommand: "true"},
			wantErr: []string{"the output of password-command is empty"}},
		{name: "command prints an empty first line",
			a:       Account{PasswordCommand: "printf '\\n" + secret + "\\n'"},
			wantErr: []string{"the output of password-command has an empty first line"}},
		{name: "command wins over the other sources",
			a:    Account{PasswordCommand: "echo from-command", PasswordEnv: "MF_TEST_SECRET", Password: "plain"},
			want: "from-command"},
		{name: "command does not read our stdin",
			a:    Account{PasswordCommand: "cat; echo done"},
			want: "done"},
		{name: "file",
			a:    Account{PasswordFile: writeSecretFile(t, secret+"\nrest\n", 0o600)},
			want: secret},
		{name: "file readable by others",
			a:       Account{PasswordFile: writeSecretFile(t, secret+"\n", 0o644)},
			wantErr: []string{"is readable by others (mode 0644): chmod 600"}},
		{name: "file missing",
			a:       Account{PasswordFile: filepath.Join(t.TempDir(), "nope")},
			wantErr: []string{"password-file: open", "no such file"}},
		{name: "file empty",
			a:       Account{PasswordFile: writeSecretFile(t, "", 0o600)},
			wantErr: []string{"pass is empty"}},
		{name: "file wins over env",
			a:    Account{PasswordFile: writeSecretFile(t, "from-file\n", 0o400), PasswordEnv: "MF_TEST_SECRET"},
			want: "from-file"},
		{name: "env",
			a:    Account{PasswordEnv: "MF_TEST_SECRET"},
			want: secret},
		{name: "env empty",
			a:       Account{PasswordEnv: "MF_TEST_EMPTY"},
			wantErr: []string{"the environment variable MF_TEST_EMPTY is empty"}},
		{name: "env unset",
			a:       Account{PasswordEnv: "MF_TEST_UNSET"},
			wantErr: []string{"the environment variable MF_TEST_UNSET is not set"}},
		{name: "plaintext",
			a:    Account{Password: secret},
			want: secret},
		{name: "no source and no terminal",
			a:       Account{},
			wantErr: []string{"no password source: set password-command, password-file or password-env", "not a terminal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			if a.Name == "" {
				a.Name = "work"
			}
			got, err := a.SecretWith(context.Background(), noTerminal)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("secret %q, want %q", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Secret succeeded with %q", got)
			}
			if k := failure.KindOf(err); k != failure.Usage {
				t.Errorf("kind %v, want usage", k)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `account "work": `) {
				t.Errorf("error does not name the account: %s", msg)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error shows the secret: %s", msg)
			}
		})
	}
}

func TestPasswordSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a    Account
		want string
	}{
		{Account{PasswordCommand: "pass show x", PasswordFile: "/f", Password: "hunter2"}, `command "pass show x"`},
		{Account{PasswordFile: "/f", PasswordEnv: "E"}, "file /f"},
		{Account{PasswordEnv: "E", Password: "hunter2"}, "environment variable E"},
		{Account{Password: "hunter2"}, "the config file"},
		{Account{}, "a prompt on the terminal"},
	} {
		if got := tc.a.PasswordSource(); got != tc.want {
			t.Errorf("PasswordSource() = %q, want %q", got, tc.want)
		}
	}
}

// TestSecretCommandTimeout runs a command that hangs with a child holding
// its output open: Secret must return after the timeout, and neither the
// shell nor its child may survive.
func TestSecretCommandTimeout(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	a := &Account{
		Name:            "work",
		PasswordCommand: fmt.Sprintf(`echo $$ > '%[1]s'; sleep 600 & echo $! >> '%[1]s'; wait`, pids),
		PasswordTimeout: time.Second,
	}
	_, err := a.SecretWith(context.Background(), noTerminal)
	if err == nil {
		t.Fatal("a hanging command gave a secret")
	}
	if k := failure.KindOf(err); k != failure.Usage {
		t.Errorf("kind %v, want usage", k)
	}
	if !strings.Contains(err.Error(), "did not finish within 1s (password-timeout) and was killed") {
		t.Errorf("error %q does not say it timed out", err)
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		t.Fatalf("the command recorded pids %q, want the shell's and the sleep's", fields)
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		waitGone(t, pid)
	}
}

// waitGone waits until pid no longer runs. SIGKILL is delivered at once but
// reaping an orphan is up to init, so a zombie counts as gone; the bound is
// generous, not a timing assertion.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		// The state follows the parenthesised command name.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still running: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSecretCommandCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &Account{Name: "work", PasswordCommand: "sleep 600"}
	_, err := a.SecretWith(ctx, noTerminal)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestSecretCommandLeftoverChild: a command that succeeds but leaves a
// child holding its output still gives its first line.
func TestSecretCommandLeftoverChild(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	a := &Account{Name: "work", PasswordCommand: fmt.Sprintf(`echo pw; sleep 600 & echo $! > '%s'`, pids)}
	got, err := a.SecretWith(context.Background(), noTerminal)
	if err != nil {
		t.Fatal(err)
	}
	if got != "pw" {
		t.Errorf("secret %q, want pw", got)
	}
	data, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitGone(t, pid)
}

func TestBuffers(t *testing.T) {
	t.Parallel()
	h := &headBuffer{limit: 5}
	for _, s := range []string{"ab", "cd", "efg", "h"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if string(h.Bytes()) != "abcde" || !h.overflow {
		t.Errorf("head %q overflow %v", h.Bytes(), h.overflow)
	}
	for _, tc := range []struct {
		writes []string
		lines  int
	}{
		{nil, 0},
		{[]string{"one\n"}, 1},
		{[]string{"one\ntw", "o\nthree"}, 3},
		{[]string{"a", "b", "\n", ""}, 1},
	} {
		var shown bytes.Buffer
		c := &lineCounter{show: &shown}
		for _, w := range tc.writes {
			c.Write([]byte(w))
		}
		if c.lines() != tc.lines || shown.String() != strings.Join(tc.writes, "") {
			t.Errorf("%q: %d lines, shown %q", tc.writes, c.lines(), shown.String())
		}
	}
	if _, err := firstLine([]byte(strings.Repeat("x", 10)), true); err == nil {
		t.Error("firstLine accepted a cut line")
	}
}

// With CommandStderr set (the CLI's --verbose on a terminal) a failing
// command's stderr goes there as it is written, and the error points at
// it; the error itself still holds none of it.
func TestSecretCommandStderrShown(t *testing.T) {
	t.Parallel()
	var shown bytes.Buffer
	a := &Account{Name: "work", PasswordCommand: "echo 'gpg: decryption failed: No secret key' >&2; exit 2"}
	_, err := a.SecretWith(context.Background(), SecretOptions{CommandStderr: &shown, stdinIsTerminal: noTerminal.stdinIsTerminal})
	if err == nil || !strings.Contains(err.Error(), "password-command failed (exit status 2); its stderr is shown above") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(err.Error(), "gpg") {
		t.Errorf("the error holds the stderr: %v", err)
	}
	if shown.String() != "gpg: decryption failed: No secret key\n" {
		t.Errorf("shown %q", shown.String())
	}
}

// The variable that password-env names holds a password: password-command
// does not get it (nor any command mailfetch starts, see SecretVariables).
func TestSecretCommandEnvironment(t *testing.T) {
	t.Setenv("MF_TEST_PW_VAR", "hunter2-in-env")
	t.Setenv("MF_TEST_OTHER", "kept")
	a := &Account{Name: "work", PasswordCommand: `echo "${MF_TEST_PW_VAR:-unset}|$MF_TEST_OTHER"`, PasswordEnv: "MF_TEST_PW_VAR"}
	got, err := a.SecretWith(context.Background(), noTerminal)
	if err != nil {
		t.Fatal(err)
	}
	if got != "unset|kept" {
		t.Errorf("the command saw %q, want unset|kept", got)
	}
	if v := a.SecretVariables(); len(v) != 1 || v[0] != "MF_TEST_PW_VAR" {
		t.Errorf("SecretVariables() = %q", v)
	}
}
