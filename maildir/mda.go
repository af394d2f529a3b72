package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// MDA delivers each message to a command instead of a Maildir: "sh -c
// Command" with the message on its standard input. Exit status 0 means
// delivered; anything else (a non-zero exit, a signal, the timeout) is an
// error that carries the status and the last lines of the command's
// standard error. Its standard output is discarded. It implements Target:
// Stage delivers, Publish and Discard do nothing, and Staged.Path and
// Staged.Unique are "".
type MDA struct {
	Command string
	// Timeout bounds one delivery, streaming the message included; when it
	// expires the command's whole process group is killed. 0 means no
	// limit other than the context's.
	Timeout time.Duration
	// DropEnv names environment variables the command must not inherit:
	// those that hold a secret (the account's password-env). The rest of
	// mailfetch's environment is passed on.
	DropEnv []string
}

// stderrTail is how much of an MDA's standard error is kept: its end,
// where the reason for a failure is.
const stderrTail = 4 << 10

// mdaWaitDelay is how long Wait waits, once the command exited, for
// processes it left behind to close its stderr.
const mdaWaitDelay = 2 * time.Second

// exTempFail is sysexits' EX_TEMPFAIL: an MDA that says "try again later"
// (procmail, maildrop, dovecot-lda do) fails as a temporary failure.
const exTempFail = 75

// Deliver is Stage: an MDA delivery is complete when Stage returns.
func (m *MDA) Deliver(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error) {
	return m.Stage(ctx, r, opt)
}

// Stage runs the command and streams the message read from r to its
// standard input through a fixed buffer. When r fails or ctx ends before
// the message is complete, the command is killed (its process group, with
// SIGKILL) rather than shown the end of its input, so that it does not
// deliver a truncated message. A command that exits 0 without reading
// all its input has accepted the message; the rest of r is read and
// dropped. opt is not used: a command has no flags or new/cur.
func (m *MDA) Stage(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error) {
	if strings.TrimSpace(m.Command) == "" {
		return nil, failure.New(failure.Usage, "maildir: mda: empty command")
	}
	name := shorten(m.Command)
	if m.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("maildir: mda %q: %w", name, err)
	}

	cmd := exec.Command("sh", "-c", m.Command)
	if len(m.DropEnv) > 0 {
		cmd.Env = EnvironWithout(m.DropEnv)
	}
	// A process group of its own, so that a timeout kills whatever the
	// shell started, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	cmd.WaitDelay = mdaWaitDelay
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, localErr(fmt.Errorf("maildir: mda %q: %w", name, err))
	}
	if err := cmd.Start(); err != nil {
		return nil, localErr(fmt.Errorf("maildir: mda %q: start: %w", name, err))
	}
	pid := cmd.Process.Pid
	killGroup := func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }

	exited := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			killGroup()
		case <-exited:
		}
	}()
	wait := func() error {
		err := cmd.Wait()
		close(exited)
		<-watchDone
		return err
	}

	var hc headerCapture
	n, cerr := copyMessage(ctx, stdin, r, &hc)
	if cerr != nil && !cerr.local {
		// The reader failed, or ctx ended: the command must not see EOF.
		killGroup()
		stdin.Close()
		_ = wait()
		if ctx.Err() != nil && errors.Is(cerr.err, ctx.Err()) {
			return nil, m.ctxErr(ctx, name)
		}
		return nil, cerr.wrap(fmt.Sprintf("mda %q (killed)", name))
	}
	// On a write error (EPIPE: the command closed its input) the exit
	// status decides.
	stdin.Close()
	werr := wait()
	if ctx.Err() != nil && werr != nil {
		return nil, m.ctxErr(ctx, name)
	}
	if werr != nil {
		return nil, mdaExitErr(name, werr, stderr.lastLines(3))
	}
	if cerr != nil {
		buf := bufPool.Get().(*[bufSize]byte)
		k, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf[:])
		bufPool.Put(buf)
		n += k
		if err != nil {
			return nil, fmt.Errorf("maildir: mda %q: accepted the message before its end, then: read message: %w", name, err)
		}
	}
	return &Staged{size: n, header: hc.result(), state: stagedPublished}, nil
}

func (m *MDA) ctxErr(ctx context.Context, name string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && m.Timeout > 0 {
		return failure.Wrap(failure.Temporary, fmt.Errorf("maildir: mda %q: timed out after %v, killed: %w", name, m.Timeout, ctx.Err()))
	}
	return fmt.Errorf("maildir: mda %q: killed: %w", name, context.Cause(ctx))
}

// mdaExitErr describes a command that failed: its exit status or signal
// and the end of what it wrote to stderr.
func mdaExitErr(name string, err error, stderr string) error {
	kind := failure.LocalIO
	var ee *exec.ExitError
	status := err.Error()
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			status = "killed by signal " + ws.Signal().String()
		} else {
			status = fmt.Sprintf("exit status %d", ee.ExitCode())
			if ee.ExitCode() == exTempFail {
				kind = failure.Temporary
			}
		}
	}
	if stderr != "" {
		status += ": " + stderr
	}
	return failure.Wrap(kind, fmt.Errorf("maildir: mda %q: %s", name, status))
}

// EnvironWithout returns this process's environment without the variables
// named in drop: the environment of a command that must not see them.
func EnvironWithout(drop []string) []string {
	env := os.Environ()
	kept := env[:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			kept = append(kept, kv)
		}
	}
	return kept
}

// Publish does nothing: an MDA delivery is complete at Stage.
func (m *MDA) Publish(staged ...*Staged) error { return nil }

// Discard does nothing: a delivered message cannot be taken back.
func (m *MDA) Discard(staged ...*Staged) {}

// shorten keeps error messages readable when the command is a script.
func shorten(s string) string {
	s = flatten(s)
	if len(s) <= 80 {
		return s
	}
	cut := 77
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// tailBuffer keeps the last stderrTail bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= stderrTail {
		t.b = append(t.b[:0], p[len(p)-stderrTail:]...)
		return n, nil
	}
	if over := len(t.b) + len(p) - stderrTail; over > 0 {
		t.b = t.b[:copy(t.b, t.b[over:])]
	}
	t.b = append(t.b, p...)
	return n, nil
}

// lastLines is the last k non-empty lines, flattened and joined with
// " | ".
func (t *tailBuffer) lastLines(k int) string {
	var lines []string
	for _, l := range strings.Split(string(t.b), "\n") {
		if l = flatten(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > k {
		lines = lines[len(lines)-k:]
	}
	return strings.Join(lines, " | ")
}
