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

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// maxSecretLine bounds the first line of a password command or file: OAuth2
// access tokens run to a few KiB, nothing legitimate to 64.
const maxSecretLine = 64 << 10

// waitDelay bounds how long a password command's leftover children may hold
// its output open after it exited or was killed.
const waitDelay = time.Second

// SecretOptions adjust how Secret runs password-command.
type SecretOptions struct {
	// CommandStderr receives password-command's standard error as the
	// command writes it. Set it only when a person reads it on a terminal
	// (the CLI does with --verbose): a helper that fails may print the
	// secret there (a debug mode, a misplaced redirection), and a log keeps
	// what it is given. nil: the stderr is counted, never shown.
	CommandStderr io.Writer

	// stdinIsTerminal says whether there is a person to prompt; nil asks
	// standard input. Tests pretend either way.
	stdinIsTerminal func() bool
}

func (o SecretOptions) canPrompt() bool {
	if o.stdinIsTerminal != nil {
		return o.stdinIsTerminal()
	}
	return term.IsTerminal(syscall.Stdin)
}

// Secret returns the account's password, or the OAuth2 token for xoauth2 and
// oauthbearer, from the first source that is set: PasswordCommand,
// PasswordFile, PasswordEnv, Password; without any, a prompt on the terminal
// (only when standard input is a terminal). It is SecretWith without
// options: password-command's stderr is never shown.
func (a *Account) Secret(ctx context.Context) (string, error) {
	return a.SecretWith(ctx, SecretOptions{})
}

// SecretWith is Secret with options.
//
// Errors are failure.Usage, a timed-out command included (see the package
// comment), except that a cancelled ctx is returned as such. They never
// contain the secret, nor anything password-command printed: for a command
// that failed they give its exit status or signal and how many lines it
// wrote on stderr, which opt.CommandStderr alone shows.
func (a *Account) SecretWith(ctx context.Context, opt SecretOptions) (string, error) {
	var secret string
	var err error
	switch a.source() {
	case fromCommand:
		secret, err = a.commandSecret(ctx, opt.CommandStderr)
	case fromFile:
		secret, err = a.fileSecret()
	case fromEnv:
		secret, err = a.envSecret()
	case fromConfig:
		return a.Password, nil
	default:
		secret, err = a.promptSecret(ctx, opt.canPrompt())
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

// SecretVariables names the environment variables that hold a secret of
// the account (password-env's), whether or not Secret reads them: no
// command that mailfetch starts for the account (password-command, an mda
// and all they run) is given them.
func (a *Account) SecretVariables() []string {
	if a.PasswordEnv == "" {
		return nil
	}
	return []string{a.PasswordEnv}
}

// commandSecret runs PasswordCommand and returns the first line of its
// output. Its stderr goes to show, if set, and is otherwise only counted.
func (a *Account) commandSecret(ctx context.Context, show io.Writer) (string, error) {
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
	stderr := &lineCounter{show: show}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(maildir.EnvironWithout(a.SecretVariables()),
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
			return "", fmt.Errorf("password-command failed (%s)%s", exitStatus(ee), stderrNote(stderr))
		}
		return "", fmt.Errorf("password-command could not run: %w", err)
	}
	line, err := firstLine(stdout.Bytes(), stdout.overflow)
	if err != nil {
		return "", fmt.Errorf("the output of password-command %w", err)
	}
	return line, nil
}

// exitStatus says how a command ended: "exit status 2", or "killed by
// signal SIGSEGV".
func exitStatus(ee *exec.ExitError) string {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + unix.SignalName(ws.Signal())
	}
	// The shell's own codes say what its stderr would have: the one
	// failure that needs no stderr to be understood.
	switch code := ee.ExitCode(); code {
	case 126:
		return "exit status 126: the shell could not execute the command"
	case 127:
		return "exit status 127: the shell found no such command"
	default:
		return fmt.Sprintf("exit status %d", code)
	}
}

// stderrNote is the part of an error message about a command's stderr: how
// much it printed, never what, since a failing helper may print the secret
// there (see SecretOptions).
func stderrNote(stderr *lineCounter) string {
	switch {
	case stderr.show != nil && stderr.lines() > 0:
		return "; its stderr is shown above"
	case stderr.lines() == 0:
		return ", with nothing on stderr"
	}
	return fmt.Sprintf("; it printed %s on stderr, not shown as it could hold the password (run with --verbose on a terminal to see it)",
		plural(stderr.lines(), "line"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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
func (a *Account) promptSecret(ctx context.Context, canPrompt bool) (string, error) {
	if !canPrompt {
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

// lineCounter counts the lines written to it (a last one without a line
// end too) and passes the bytes on to show, if set. It never fails the
// writer: a write error would kill the command with SIGPIPE and hide its
// real exit status.
type lineCounter struct {
	show     io.Writer
	newlines int
	partial  bool // bytes after the last newline
}

func (c *lineCounter) Write(p []byte) (int, error) {
	if c.show != nil {
		_, _ = c.show.Write(p)
	}
	if len(p) > 0 {
		c.newlines += bytes.Count(p, []byte{'\n'})
		c.partial = p[len(p)-1] != '\n'
	}
	return len(p), nil
}

func (c *lineCounter) lines() int {
	if c.partial {
		return c.newlines + 1
	}
	return c.newlines
}
