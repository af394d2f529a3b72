package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// promptHelperEnv makes the test binary ask for a password (see TestMain)
// and print what it got on stdout.
const promptHelperEnv = "MAILFETCH_TEST_PROMPT"

func promptForSecret() int {
	a := &Account{Name: "work", User: "me", Host: "imap.example.com"}
	s, err := a.Secret(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print("secret=" + s)
	return 0
}

// openPTY returns a pseudo-terminal's master and the path of its slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	rc, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err = errors.Join(err, ioctlErr); err != nil {
		t.Fatal(err)
	}
	return master, "/dev/pts/" + strconv.Itoa(n)
}

// TestSecretPrompt runs the prompt in a child whose controlling terminal is
// a pseudo-terminal: the prompt must appear there, and what is typed must
// come back as the secret without being echoed.
func TestSecretPrompt(t *testing.T) {
	t.Parallel()
	master, slavePath := openPTY(t)
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), promptHelperEnv+"=1")
	cmd.Stdin = slave
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A session of its own with the pty as controlling terminal: /dev/tty
	// in the child is the pty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	// Guard against a hang: a test failure, not a timing assertion.
	if err := master.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	buf := make([]byte, 256)
	const prompt = `Password for me on imap.example.com (account "work"): `
	for !strings.Contains(screen.String(), prompt) {
		n, err := master.Read(buf)
		screen.Write(buf[:n])
		if err != nil {
			t.Fatalf("reading the terminal: %v; it shows %q; stderr %q", err, screen.String(), stderr.String())
		}
	}
	if _, err := master.Write([]byte("s3cret\n")); err != nil {
		t.Fatal(err)
	}
	// The rest of the screen, until the child closes the terminal (EIO).
	for {
		n, err := master.Read(buf)
		screen.Write(buf[:n])
		if err != nil {
			if !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
				t.Errorf("reading the terminal: %v", err)
			}
			break
		}
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("child: %v; stderr %q", err, stderr.String())
	}
	if got := stdout.String(); got != "secret=s3cret" {
		t.Errorf("child got %q, want secret=s3cret", got)
	}
	if strings.Contains(screen.String(), "s3cret") {
		t.Errorf("the password was echoed: %q", screen.String())
	}
}
