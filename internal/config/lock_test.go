package config

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// lockHelperEnv makes the test binary a lock holder (see TestMain): it locks
// the file named by the variable, prints "locked", and releases the lock
// when its stdin closes.
const lockHelperEnv = "MAILFETCH_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		os.Exit(holdLock(path))
	}
	if os.Getenv(promptHelperEnv) != "" {
		os.Exit(promptForSecret())
	}
	os.Exit(m.Run())
}

func holdLock(path string) int {
	release, err := Lock(context.Background(), path, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestLockCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state", "work")
	path := filepath.Join(dir, "lock")
	release, err := Lock(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Dir(dir), 0o700}, {path, 0o600}} {
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask can only take bits away.
		if info.Mode().Perm()&^c.mode != 0 {
			t.Errorf("%s has mode %04o, want at most %04o", c.path, info.Mode().Perm(), c.mode)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(data)), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("lock file holds %q, want our pid %s", got, want)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
}

func TestLockHeldFailsAtOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Lock(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	_, err = Lock(context.Background(), path, 0)
	if err == nil {
		t.Fatal("a second Lock succeeded while the first is held")
	}
	if k := failure.KindOf(err); k != failure.Locked {
		t.Errorf("kind %v, want locked", k)
	}
	if want := fmt.Sprintf("is locked by another mailfetch run (pid %d)", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}

	a := &Account{Name: "work", StateDir: filepath.Dir(path)}
	_, err = a.Lock(context.Background(), 0)
	if want := fmt.Sprintf(`account "work" is locked by another mailfetch run (pid %d)`, os.Getpid()); err == nil || err.Error() != want {
		t.Errorf("Account.Lock error %v, want %q", err, want)
	}
}

// TestLockWaitsForRelease releases the first lock while the second Lock is
// waiting (from the hook that runs before each wait), so the second must
// have retried to succeed.
func TestLockWaitsForRelease(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Lock(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	waits := 0
	l := locker{beforeWait: func() {
		waits++
		if waits == 1 {
			if err := release(); err != nil {
				t.Error(err)
			}
		}
	}}
	release2, err := l.lock(context.Background(), path, time.Minute, path)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if waits != 1 {
		t.Errorf("Lock waited %d times, want 1", waits)
	}
}

func TestLockWaitGivesUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Lock(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	_, err = Lock(context.Background(), path, 30*time.Millisecond)
	if failure.KindOf(err) != failure.Locked || !strings.Contains(err.Error(), "still locked by another mailfetch run") ||
		!strings.Contains(err.Error(), "after waiting 30ms") {
		t.Errorf("after the wait: %v (kind %v)", err, failure.KindOf(err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, err = locker{beforeWait: cancel}.lock(ctx, path, time.Hour, path)
	if failure.KindOf(err) != failure.Locked || !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v (kind %v)", err, failure.KindOf(err))
	}
}

func TestLockErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A lock under a regular file: the directory cannot be made.
	_, err := Lock(context.Background(), filepath.Join(file, "lock"), 0)
	if err == nil || failure.KindOf(err) != failure.LocalIO {
		t.Errorf("lock under a file: %v (kind %v), want a local-io error", err, failure.KindOf(err))
	}
}

// TestLockAcrossProcesses holds the lock in a child process (this test
// binary, see TestMain): the parent must see it held, with the child's pid,
// and get it once the child lets go.
func TestLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}

	_, err = Lock(context.Background(), path, 0)
	if k := failure.KindOf(err); err == nil || k != failure.Locked {
		t.Fatalf("Lock while the child holds it: %v (kind %v)", err, k)
	}
	if want := fmt.Sprintf("(pid %d)", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the child, %s", err, want)
	}

	// Let the child go, and wait for the lock: however long the child takes
	// to release, the wait covers it.
	stdin.Close()
	release, err := Lock(context.Background(), path, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("child: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", got)
	}
}
