package fetch

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
)

// Tests against the real Dovecot of internal/dovetest. Dovecot stores the
// seeded messages with LF line ends and serves them with CRLF; the client
// turns CRLF back into LF, so every delivered file must equal the seeded
// bytes exactly.

// dovecotOptions are Options for user on srv: implicit TLS on the POP3S
// port, or STARTTLS on the plain one, trusting the server's CA file.
func (a *account) dovecotOptions(srv *dovetest.Server, user string, mode transport.TLSMode, sink report.Sink) Options {
	port := srv.POP3SPort
	if mode != transport.TLSImplicit {
		port = srv.POP3Port
	}
	return Options{
		Account: user, Host: srv.Host, Port: port,
		Security: transport.Security{Mode: mode, CAFile: srv.CAFile},
		User:     user, Secret: "secret",
		Dest: a.dest, StateDir: a.stateDir, Sink: sink,
	}
}

func seededRaws(msgs []dovetest.Message) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Raw
	}
	return out
}

func mustCount(t testing.TB, srv *dovetest.Server, user string) int {
	t.Helper()
	n, err := srv.Count(user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// 1,000 messages of the PEERS.md mix, download-and-delete, over implicit
// TLS, STARTTLS, and without pipelining: every message byte-identical in
// the Maildir, the server's INBOX empty afterwards.
func TestDovecotDeleteMode(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "tls", "starttls", "nopipe")
	msgs := dovetest.Generate(1, 1000)
	for _, tc := range []struct {
		user   string
		mode   transport.TLSMode
		window int
	}{{"tls", transport.TLSImplicit, 0}, {"starttls", transport.TLSStartTLS, 0}, {"nopipe", transport.TLSImplicit, 1}} {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			if err := srv.Seed(tc.user, "INBOX", msgs); err != nil {
				t.Fatal(err)
			}
			a := newAccount(t, t.TempDir())
			rec := &recorder{}
			opt := a.dovecotOptions(srv, tc.user, tc.mode, rec)
			opt.Window = tc.window
			res, err := Run(context.Background(), opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Delivered != len(msgs) || res.Deleted != len(msgs) {
				t.Errorf("result %+v", res)
			}
			sameMessages(t, a.delivered(t), seededRaws(msgs))
			if n := mustCount(t, srv, tc.user); n != 0 {
				t.Errorf("%d messages left on the server", n)
			}
			var bytes int64
			for _, e := range rec.of(report.Delivered) {
				bytes += e.Size
			}
			if bytes != res.Bytes {
				t.Errorf("events say %d bytes, result %d", bytes, res.Bytes)
			}
		})
	}
}

// Keep mode: the second run fetches nothing; 50 new messages are exactly
// what the third run fetches.
func TestDovecotKeep(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "keep")
	msgs := dovetest.Generate(2, 250)
	if err := srv.Seed("keep", "INBOX", msgs[:200]); err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, t.TempDir())
	opt := a.dovecotOptions(srv, "keep", transport.TLSImplicit, nil)
	opt.Keep = true
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 200 || res.Deleted != 0 {
		t.Fatalf("first run %+v %v", res, err)
	}
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 0 {
		t.Fatalf("second run %+v %v", res, err)
	}
	if err := srv.Seed("keep", "INBOX", msgs[200:]); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	opt.Sink = rec
	if res, err := Run(context.Background(), opt); err != nil || res.Delivered != 50 {
		t.Fatalf("third run %+v %v", res, err)
	}
	var got [][]byte
	for _, e := range rec.of(report.Delivered) {
		b, err := os.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	sameMessages(t, got, seededRaws(msgs[200:]))
	sameMessages(t, a.delivered(t), seededRaws(msgs))
	if n := mustCount(t, srv, "keep"); n != 250 {
		t.Errorf("%d on the server, want 250", n)
	}
	// Check sees the same maildrop.
	cr, err := Check(context.Background(), opt)
	if err != nil || cr.Messages != 250 || len(cr.Capabilities) == 0 {
		t.Errorf("check %+v %v", cr, err)
	}
}

func TestDovecotAuthFailure(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "authfail")
	a := newAccount(t, t.TempDir())
	for _, auth := range []string{"auto", "user", "plain", "apop", "cram-md5"} {
		opt := a.dovecotOptions(srv, "authfail", transport.TLSImplicit, nil)
		opt.Auth, opt.Secret = auth, "wrong"
		if _, err := Run(context.Background(), opt); failure.KindOf(err) != failure.Auth {
			t.Errorf("auth %s: got %v (kind %v), want an auth failure", auth, err, failure.KindOf(err))
		}
		opt.Secret = "secret"
		if _, err := Check(context.Background(), opt); err != nil {
			t.Errorf("auth %s: %v", auth, err)
		}
	}
}

// crashEnv selects the helper mode of the test binary: TestCrashHelper
// runs one fetch with the settings in the environment and exits.
const crashEnv = "MAILFETCH_FETCH_CRASH_HELPER"

// TestCrashHelper is not a test: the crash test runs the test binary with
// crashEnv set, to be killed at random moments in a delete-mode fetch.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashEnv) != "1" {
		t.Skip("helper for TestDovecotCrash")
	}
	port, _ := strconv.Atoi(os.Getenv("CRASH_PORT"))
	a := newAccount(t, os.Getenv("CRASH_DIR"))
	opt := Options{
		Account: "crash", Host: os.Getenv("CRASH_HOST"), Port: port,
		Security: transport.Security{Mode: transport.TLSImplicit, CAFile: os.Getenv("CRASH_CA")},
		User:     os.Getenv("CRASH_USER"), Secret: "secret", Dest: a.dest, StateDir: a.stateDir,
	}
	// Small windows and batches are not needed: the kill lands wherever
	// it lands. Errors other than the kill itself fail the helper.
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
}

// kill -9 at random moments of a 500-message delete-mode fetch, again and
// again, then a run to completion: every message exactly once in the
// Maildir, none left on the server.
func TestDovecotCrash(t *testing.T) {
	t.Parallel()
	if os.Getenv(crashEnv) == "1" {
		t.Skip("inside the helper")
	}
	srv := dovecot(t, "crash")
	msgs := dovetest.Generate(3, 500)
	if err := srv.Seed("crash", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := newAccount(t, dir)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	newDir := filepath.Join(a.maildir, "new")
	inNew := func() int {
		ents, _ := os.ReadDir(newDir)
		return len(ents)
	}
	kills, completed := 0, 0
	var progress []int // messages in the Maildir after each kill
	for round := 0; round < 40 && completed == 0; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"=1", "CRASH_DIR="+dir, "CRASH_HOST="+srv.Host,
			"CRASH_PORT="+strconv.Itoa(srv.POP3SPort), "CRASH_CA="+srv.CAFile, "CRASH_USER=crash")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Where the kill lands is random (time is used only to choose
		// it, nothing is asserted about it): mostly once the Maildir
		// reached a random count, so that kills spread over the
		// deliveries; otherwise after a random delay, which also lands
		// in the start-up, in the DELEs and QUIT, and in the compaction.
		cur := inNew()
		target := -1
		if cur < len(msgs) && rng.IntN(10) < 7 {
			target = cur + 1 + rng.IntN(min(64, len(msgs)-cur))
		}
		deadline := time.Now().Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		if target >= 0 {
			deadline = time.Now().Add(time.Minute) // the count decides
		}
		var exited error
		finished := false
	wait:
		for {
			select {
			case exited = <-done:
				finished = true
				break wait
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) || (target >= 0 && inNew() >= target) {
				break
			}
		}
		if finished {
			if exited != nil {
				t.Fatalf("helper failed on its own: %v\n%s", exited, out.String())
			}
			completed++
			continue
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		kills++
		progress = append(progress, inNew())
	}
	t.Logf("%d kills (messages in new/ after each: %v), %d helper runs completed; %d on the server before the final run",
		kills, progress, completed, mustCount(t, srv, "crash"))
	rec := &recorder{}
	opt := a.dovecotOptions(srv, "crash", transport.TLSImplicit, rec)
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	got := a.delivered(t)
	ids := map[string]int{}
	for _, g := range got {
		ids[firstLine(g)]++
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("Message-ID %s delivered %d times", id, n)
		}
	}
	sameMessages(t, got, seededRaws(msgs))
	if n := mustCount(t, srv, "crash"); n != 0 {
		t.Errorf("%d messages left on the server", n)
	}
}

// A full disk during delivery (a quota): what fits is delivered and, in
// delete mode, deleted on the server; the rest stays there; the run ends
// with failure.LocalIO and says so. With room again the next run fetches
// the rest: every message exactly once, the server empty. The disk holds
// more than one delivery batch (64 messages), or less than one, where a
// run used to deliver nothing at all, every time. Needs root for a small
// tmpfs.
func TestDovecotDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	cases := []struct {
		user string
		size string
		keep bool
	}{{"fullbig", "3m", false}, {"fullsmall", "1m", false}, {"fullkeep", "1m", true}}
	srv := dovecot(t, "fullbig", "fullsmall", "fullkeep")
	msgs := dovetest.Generate(4, 300) // about 10 MB
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			if err := srv.Seed(tc.user, "INBOX", msgs); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			mnt := filepath.Join(dir, "small")
			if err := os.Mkdir(mnt, 0o700); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+tc.size, "tmpfs", mnt).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
			}
			t.Cleanup(func() {
				if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", mnt, err, out)
				}
			})
			a := newAccount(t, dir)
			// The Maildir on the small disk; the state beside it, on a
			// large one, so that it is the delivery that fails.
			a2 := newAccount(t, mnt)
			a2.stateDir = a.stateDir
			rec := &recorder{}
			opt := a2.dovecotOptions(srv, tc.user, transport.TLSImplicit, rec)
			opt.Keep = tc.keep
			res, err := Run(context.Background(), opt)
			if failure.KindOf(err) != failure.LocalIO {
				t.Fatalf("got %v (kind %v), want a local I/O failure", err, failure.KindOf(err))
			}
			delivered := a2.delivered(t)
			n := len(delivered)
			t.Logf("%d delivered: %v", n, err)
			if n == 0 || n >= len(msgs) {
				t.Fatalf("%d of %d messages delivered, want those that fit", n, len(msgs))
			}
			// Exactly the first n, each complete; nothing left in tmp/.
			sameMessages(t, delivered, seededRaws(msgs[:n]))
			if a2.tmpFiles(t) != 0 {
				t.Errorf("files left in tmp/")
			}
			msg := err.Error()
			if !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") ||
				!strings.Contains(msg, fmt.Sprintf("delivered %d messages before that", n)) {
				t.Errorf("error %q", msg)
			}
			wantDeleted := n
			if tc.keep {
				wantDeleted = 0
			}
			if res.Delivered != n || res.Deleted != wantDeleted || len(rec.of(report.Deleted)) != wantDeleted {
				t.Errorf("result %+v, %d Deleted events", res, len(rec.of(report.Deleted)))
			}
			if left := mustCount(t, srv, tc.user); left != len(msgs)-wantDeleted {
				t.Errorf("%d messages on the server, want %d", left, len(msgs)-wantDeleted)
			}

			// Room again: the rest arrives, nothing twice.
			if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
			opt.Sink = nil
			res, err = Run(context.Background(), opt)
			if err != nil || res.Delivered != len(msgs)-n {
				t.Fatalf("second run: %+v %v", res, err)
			}
			sameMessages(t, a2.delivered(t), seededRaws(msgs))
			wantLeft := 0
			if tc.keep {
				wantLeft = len(msgs)
			}
			if left := mustCount(t, srv, tc.user); left != wantLeft {
				t.Errorf("%d messages left on the server, want %d", left, wantLeft)
			}
		})
	}
}

// A message far larger than any buffer: streamed through, byte-identical.
// The memory bound itself is measured by the benchmark, not asserted here.
func TestDovecotLargeMessage(t *testing.T) {
	t.Parallel()
	srv := dovecot(t, "large")
	size := 20 << 20
	if testing.Short() {
		size = 2 << 20
	}
	raw := bigMessage(size)
	if err := srv.Seed("large", "INBOX", []dovetest.Message{{Raw: raw}}); err != nil {
		t.Fatal(err)
	}
	a := newAccount(t, t.TempDir())
	if res, err := Run(context.Background(), a.dovecotOptions(srv, "large", transport.TLSImplicit, nil)); err != nil || res.Delivered != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	sameMessages(t, a.delivered(t), [][]byte{raw})
}

// bigMessage is a message of about size bytes: a header and base64-like
// lines, some starting with '.'.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Message-ID: <big@test>\nFrom: big@example.org\nSubject: big\n\n")
	line := strings.Repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1) + "\n"
	for i := 0; b.Len() < size; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&b, ".%d\n", i)
		}
		b.WriteString(line)
	}
	return b.Bytes()
}
