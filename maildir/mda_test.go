package maildir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// Every test here stops the processes it starts: a failed or timed-out
// delivery kills the command's process group, which TestMDATimeout checks.

func TestMDADeliver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	m := &MDA{Command: "cat > '" + out + "'; echo stdout is discarded"}
	var target Target = m
	st, err := target.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{Cur: true})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != testMsg {
		t.Errorf("the command got %q", b)
	}
	if st.Path() != "" || st.Unique() != "" || st.Size() != int64(len(testMsg)) {
		t.Errorf("Staged: path %q unique %q size %d", st.Path(), st.Unique(), st.Size())
	}
	if h := st.Header(); h.Subject != "test" || h.MessageID != "t1@example.org" {
		t.Errorf("Header() = %+v", h)
	}
	if err := target.Publish(st); err != nil {
		t.Errorf("Publish: %v", err)
	}
	target.Discard(st)
	if _, err := os.Stat(out); err != nil {
		t.Error("Discard undid an MDA delivery")
	}
	// A large message streams through the pipe.
	big := &bodyReader{left: 8 << 20}
	if st, err := m.Deliver(context.Background(), big, StageOptions{}); err != nil || st.Size() != 8<<20 {
		t.Fatalf("large message: %v", err)
	}
	if fi, _ := os.Stat(out); fi.Size() != 8<<20 {
		t.Errorf("the command got %d bytes", fi.Size())
	}
}

func TestMDAAcceptsEarly(t *testing.T) {
	t.Parallel()
	// A command that exits 0 without reading its input has accepted the
	// message; the rest of the reader is consumed.
	r := strings.NewReader(testMsg + strings.Repeat("x", 4<<20))
	st, err := (&MDA{Command: "exit 0"}).Stage(context.Background(), r, StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 || st.Size() != int64(len(testMsg)+4<<20) {
		t.Errorf("left %d bytes unread, Size() %d", r.Len(), st.Size())
	}
}

func TestMDAFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command string
		want          []string
		kind          failure.Kind
	}{
		{"exit status", "cat >/dev/null; echo first line >&2; echo 'procmail: cannot lock' >&2; exit 3",
			[]string{"exit status 3", "first line | procmail: cannot lock"}, failure.LocalIO},
		{"temporary failure", "cat >/dev/null; echo 'over quota, try later' >&2; exit 75",
			[]string{"exit status 75", "over quota, try later"}, failure.Temporary},
		{"signal", "kill -TERM $$", []string{"killed by signal terminated"}, failure.LocalIO},
		{"no such command", "/nonexistent/mda", []string{"exit status 127", "not found"}, failure.LocalIO},
		{"long stderr", "cat >/dev/null; i=0; while [ $i -lt 2000 ]; do echo noise line $i >&2; i=$((i+1)); done; echo the reason >&2; exit 1",
			[]string{"exit status 1", "noise line 1999 | the reason"}, failure.LocalIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&MDA{Command: tt.command}).Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
			if err == nil {
				t.Fatal("Stage succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			if k := failure.KindOf(err); k != tt.kind {
				t.Errorf("kind %v, want %v", k, tt.kind)
			}
		})
	}
	if _, err := (&MDA{Command: " "}).Stage(context.Background(), strings.NewReader(testMsg), StageOptions{}); failure.KindOf(err) != failure.Usage {
		t.Errorf("empty command: %v", err)
	}
}

// TestMDATimeout: the command and what it started are killed.
func TestMDATimeout(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	m := &MDA{
		Command: "sleep 300 & echo $! > '" + pidFile + "'; cat >/dev/null; wait",
		Timeout: 300 * time.Millisecond,
	}
	_, err := m.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("Stage: %v (kind %v), want a temporary timeout", err, failure.KindOf(err))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

// TestMDAReaderFails: a message cut short must not reach the command's
// end of input, where it would deliver the truncated message.
func TestMDAReaderFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "delivered")
	m := &MDA{Command: "cat >/dev/null && touch '" + marker + "'"}
	cut := errors.New("connection cut")
	_, err := m.Stage(context.Background(), &errReader{testMsg + strings.Repeat("b", 200000), cut}, StageOptions{})
	if !errors.Is(err, cut) {
		t.Fatalf("Stage: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command delivered a truncated message")
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := readerFunc(func(p []byte) (int, error) { cancel(); return copy(p, "x"), nil })
	if _, err := m.Stage(ctx, r, StageOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Stage: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command delivered after cancellation")
	}
}

// waitGone waits until pid no longer runs (a zombie waiting for its
// parent counts as gone) and fails after a generous limit: it checks that
// the process was killed, not how fast.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 600 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d still runs: its group was not killed", pid)
}

// The variables named in DropEnv (an account's password-env) reach neither
// the command nor what it runs; the rest of the environment does.
func TestMDADropEnv(t *testing.T) {
	t.Setenv("MF_TEST_MAIL_PASSWORD", "hunter2-4711")
	t.Setenv("MF_TEST_KEPT", "kept-4711")
	out := filepath.Join(t.TempDir(), "env")
	m := &MDA{Command: "cat >/dev/null; sh -c env > '" + out + "'", DropEnv: []string{"MF_TEST_MAIL_PASSWORD"}}
	if _, err := m.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{}); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "hunter2-4711") || strings.Contains(string(env), "MF_TEST_MAIL_PASSWORD") {
		t.Errorf("the command's child got the password variable:\n%s", env)
	}
	for _, want := range []string{"MF_TEST_KEPT=kept-4711\n", "PATH="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("the environment lacks %q", want)
		}
	}
}
