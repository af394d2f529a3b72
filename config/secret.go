package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/mailfetch/mailfetch/failure"
)

// maxSecretLine bounds the first line of a password command or file: OAuth2
// access tokens run to a few KiB, nothing legitimate to 64.
const maxSecretLine = 64 << 10

// stderrTail is how much of a password command's stderr is kept for its
// error message: the end, where the reason usually is.
const stderrTail = 4 << 10

// waitDelay bounds how long a password command's leftover children may hold
// its output open after it exited or was killed.
const waitDelay = time.Second

// stdinIsTerminal says whether there is a person to prompt. A variable, so
// that tests can pretend either way.
var stdinIsTerminal = func() bool { return term.IsTerminal(syscall.Stdin) }

// Secret returns the account's password, or the OAuth2 token for xoauth2 and
// oauthbearer, from the first source that is set: PasswordCommand,
// PasswordFile, PasswordEnv, Password; without any, a prompt on the terminal
// (only when standard input is a terminal).
//
// Errors are failure.Usage, a timed-out command included (see the package
// comment), except that a cancelled ctx is returned as such. They never
// contain the secret or the command's output, only the last line of its
// stderr.
func (a *Account) Secret(ctx context.Context) (string, error) {
	var secret string
	var err error
	switch a.source() {
	case fromCommand:
		secret, err = a.commandSecret(ctx)
	case fromFile:
		secret, err = a.fileSecret()
	case fromEnv:
		secret, err = a.envSecret()
	case fromConfig:
		return a.Password, nil
	default:
		secret, err = a.promptSecret(ctx)
	}
	if err != nil {
		err = fmt.Errorf("account %q: %w", a.Name, err)
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return "", err
		}
		return "", failure.Wrap(failure.Usage, err)
	}
	return secret, nil
}

// passwordSource is where Secret takes the secret from.
type passwordSource int

const (
	fromPrompt passwordSource = iota
	fromCommand
	fromFile
	fromEnv
	fromConfig
)

// source applies the order of the sources.
func (a *Account) source() passwordSource {
	switch {
	case a.PasswordCommand != "":
		return fromCommand
	case a.PasswordFile != "":
		return fromFile
	case a.PasswordEnv != "":
		return fromEnv
	case a.Password != "":
		return fromConfig
	}
	return fromPrompt
}

// PasswordSource says where Secret takes the secret from, for display after
// "password from": `command "pass show mail/work"`, `file
// /home/me/.config/mailfetch/work.pass`, `environment variable
// WORK_MAIL_PASSWORD`, `the config file`, or `a prompt on the terminal`. It
// never shows the secret and runs nothing.
func (a *Account) PasswordSource() string {
	switch a.source() {
	case fromCommand:
		return fmt.Sprintf("command %q", a.PasswordCommand)
	case fromFile:
		return "file " + a.PasswordFile
	case fromEnv:
		return "environment variable " + a.PasswordEnv
	case fromConfig:
		return "the config file"
	}
	return "a prompt on the terminal"
}

// commandSecret runs PasswordCommand and returns the first line of its
// output.
func (a *Account) commandSecret(ctx context.Context) (string, error) {
	timeout := a.PasswordTimeout
	if timeout <= 0 {
		timeout = DefaultPasswordTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", a.PasswordCommand)
	// Stdin stays nil: /dev/null. The command must not read the terminal
	// (it is not in the foreground process group, so it would stop).
	stdout := &headBuffer{limit: maxSecretLine}
	stderr := &tailBuffer{limit: stderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(),
		"MAILFETCH_ACCOUNT="+a.Name, "MAILFETCH_HOST="+a.Host, "MAILFETCH_USER="+a.User)
	// A process group of its own, so that a timeout kills what the shell
	// started too (gpg, curl), not just the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay

	err := cmd.Run()
	if err != nil && cmd.Process != nil {
		// Whatever of the group is left (a background job holding the
		// output open) has no business running on.
		_ = killGroup(cmd.Process.Pid)
	}
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the command succeeded, but something it started
		// kept the output open; its first line is complete.
	case ctx.Err() != nil:
		return "", fmt.Errorf("password-command: %w", ctx.Err())
	case cctx.Err() != nil:
		return "", fmt.Errorf("password-command did not finish within %s (password-timeout) and was killed%s",
			timeout, stderrNote(stderr))
	default:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("password-command failed (%s)%s", ee.ProcessState, stderrNote(stderr))
		}
		return "", fmt.Errorf("password-command could not run: %w", err)
	}
	line, err := firstLine(stdout.Bytes(), stdout.overflow)
	if err != nil {
		return "", fmt.Errorf("the output of password-command %w", err)
	}
	return line, nil
}

// stderrNote is the part of an error message that shows the last line of a
// command's stderr.
func stderrNote(stderr *tailBuffer) string {
	if l := lastLine(stderr.Bytes()); l != "" {
		return ": " + l
	}
	return ", with nothing on stderr"
}

func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// fileSecret returns the first line of PasswordFile.
func (a *Account) fileSecret() (string, error) {
	f, err := os.Open(a.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("password-file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("password-file: %w", err)
	}
	if mode := info.Mode(); mode.Perm()&0o077 != 0 {
		return "", fmt.Errorf("password-file %s is %s by others (mode %04o): chmod 600 %s",
			a.PasswordFile, openTo(mode), mode.Perm(), a.PasswordFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretLine+1))
	if err != nil {
		return "", fmt.Errorf("password-file: %w", err)
	}
	line, err := firstLine(data, len(data) > maxSecretLine)
	if err != nil {
		return "", fmt.Errorf("password-file %s %w", a.PasswordFile, err)
	}
	return line, nil
}

// envSecret returns the value of the variable PasswordEnv.
func (a *Account) envSecret() (string, error) {
	v, ok := os.LookupEnv(a.PasswordEnv)
	switch {
	case !ok:
		return "", fmt.Errorf("password-env: the environment variable %s is not set", a.PasswordEnv)
	case v == "":
		return "", fmt.Errorf("password-env: the environment variable %s is empty", a.PasswordEnv)
	}
	return v, nil
}

// promptSecret asks on the terminal, without echo.
func (a *Account) promptSecret(ctx context.Context) (string, error) {
	if !stdinIsTerminal() {
		return "", errors.New("no password source: set password-command, password-file or password-env " +
			"(standard input is not a terminal, so there is no one to ask)")
	}
	// The terminal itself, not stdout or stderr: those may be redirected
	// (--json) while a person is still at the keyboard.
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no password source, and the terminal cannot be opened to ask: %w", err)
	}
	what := "Password"
	if a.Auth == "xoauth2" || a.Auth == "oauthbearer" {
		what = "OAuth2 token"
	}
	fd := int(tty.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		tty.Close()
		return "", fmt.Errorf("terminal: %w", err)
	}
	// Echo goes off before the prompt appears, so that nothing typed after
	// it is ever shown; ReadPassword keeps it off and we restore it after.
	if err := disableEcho(fd); err != nil {
		tty.Close()
		return "", fmt.Errorf("terminal: %w", err)
	}
	fmt.Fprintf(tty, "%s for %s on %s (account %q): ", what, a.User, a.Host, a.Name)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		_ = term.Restore(fd, state)
		fmt.Fprintln(tty)
		tty.Close()
		if r.err != nil {
			return "", fmt.Errorf("reading the password: %w", r.err)
		}
		if len(r.b) == 0 {
			return "", errors.New("no password given")
		}
		return string(r.b), nil
	case <-ctx.Done():
		// The read cannot be interrupted; give the terminal its echo back
		// and leave the goroutine to the exiting process.
		_ = term.Restore(fd, state)
		fmt.Fprintln(tty)
		return "", ctx.Err()
	}
}

// disableEcho turns off echo on the terminal fd and leaves line editing and
// signals (Ctrl-C) on, as term.ReadPassword does.
func disableEcho(fd int) error {
	t, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return err
	}
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	return unix.IoctlSetTermios(fd, ioctlSetTermios, t)
}

// firstLine returns the first line of data without its line ending.
// overflow says data was cut at the limit. Errors complete a sentence
// whose subject is the source: "the output of password-command is empty".
func firstLine(data []byte, overflow bool) (string, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if overflow {
			return "", fmt.Errorf("has a first line longer than %d KiB", maxSecretLine>>10)
		}
		i = len(data)
	}
	line := strings.TrimSuffix(string(data[:i]), "\r")
	switch {
	case len(data) == 0:
		return "", errors.New("is empty")
	case line == "":
		return "", errors.New("has an empty first line: the password must be on the first")
	}
	return line, nil
}

// lastLine returns the last non-blank line of a command's stderr, made safe
// to print: control characters replaced, at most 300 bytes.
func lastLine(data []byte) string {
	lines := strings.Split(strings.ToValidUTF8(string(data), "?"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		l = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, l)
		if len(l) > 300 {
			cut := 300
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			l = l[:cut] + "..."
		}
		return l
	}
	return ""
}

// headBuffer keeps the first limit bytes written to it and drops the rest,
// without failing the writer: a write error would kill the command with
// SIGPIPE and hide its real exit status.
type headBuffer struct {
	buf      []byte
	limit    int
	overflow bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.limit - len(b.buf); room < len(p) {
		b.buf = append(b.buf, p[:max(room, 0)]...)
		b.overflow = true
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *headBuffer) Bytes() []byte { return b.buf }

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	buf   []byte
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.limit {
		b.buf = append(b.buf[:0], p[len(p)-b.limit:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) Bytes() []byte { return b.buf }
