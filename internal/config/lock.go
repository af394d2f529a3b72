package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// Polling bounds while waiting for a lock: flock(2) has no timeout, and a
// blocking flock in a goroutine could not be abandoned when ctx ends.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 500 * time.Millisecond
)

// Lock takes an exclusive lock on the file at path, creating it (0600) and
// its directories (0700) as needed, and writes this process's pid into it.
// The lock lasts until release is called or the process ends; release is
// safe to call more than once.
//
// If another process (or another Lock call in this one) holds the lock, Lock
// fails at once with a failure.Locked error naming the holder's pid when
// wait is 0; otherwise it retries until the lock is free, wait has passed,
// or ctx is done, and then fails with failure.Locked (wrapping ctx.Err() in
// the last case). Other errors are failure.LocalIO.
func Lock(ctx context.Context, path string, wait time.Duration) (release func() error, err error) {
	return locker{}.lock(ctx, path, wait, path)
}

// Lock is Lock on the account's LockPath, with errors that name the account.
func (a *Account) Lock(ctx context.Context, wait time.Duration) (release func() error, err error) {
	return locker{}.lock(ctx, a.LockPath(), wait, fmt.Sprintf("account %q", a.Name))
}

// locker takes locks. Its zero value is what Lock uses; tests set its
// hook.
type locker struct {
	// beforeWait, when set, runs before each wait for a held lock.
	beforeWait func()
}

func (l locker) lock(ctx context.Context, path string, wait time.Duration, what string) (func() error, error) {
	if err := maildir.MkdirAllDurable(filepath.Dir(path), 0o700); err != nil {
		return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("lock: %w", err))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("lock: %w", err))
	}
	fd := int(f.Fd())
	deadline := time.Now().Add(wait)
	delay := lockPollMin
	for {
		err := flock(fd)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, failure.Wrap(failure.LocalIO, fmt.Errorf("lock %s: %w", path, err))
		}
		holder := holderNote(f)
		if wait <= 0 {
			f.Close()
			return nil, failure.New(failure.Locked, fmt.Sprintf("%s is locked by another mailfetch run%s", what, holder))
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.Close()
			return nil, failure.New(failure.Locked, fmt.Sprintf("%s is still locked by another mailfetch run%s after waiting %s", what, holder, wait))
		}
		if l.beforeWait != nil {
			l.beforeWait()
		}
		t := time.NewTimer(min(delay, left))
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, failure.Wrap(failure.Locked, fmt.Errorf("%s is locked by another mailfetch run%s; stopped waiting: %w", what, holder, ctx.Err()))
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}

	// The pid is for the other run's message only: failing to write it
	// does not make the lock any less held.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	var releaseErr error
	return func() error {
		once.Do(func() {
			// Empty the file before letting go, so that a pid in it always
			// belongs to a live holder (or to one that died holding it).
			_ = f.Truncate(0)
			releaseErr = f.Close() // closing the last descriptor drops the flock
			if releaseErr != nil {
				releaseErr = failure.Wrap(failure.LocalIO, fmt.Errorf("unlock %s: %w", path, releaseErr))
			}
		})
		return releaseErr
	}, nil
}

// flock tries to take the lock without blocking, retrying on EINTR.
func flock(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// holderNote reads the holder's pid from the lock file: " (pid 1234)", or
// "" while the holder has not written it yet.
func holderNote(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	s, _, _ := strings.Cut(string(buf[:n]), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && pid > 0 {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}
