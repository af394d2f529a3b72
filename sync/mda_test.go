package sync

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// MDA mode: a one-way fetch of new mail into a command, UIDs tracked.
func TestMDA(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	u := user.Name
	msgs := dovetest.Generate(51, 10)
	if err := srv.Seed(u, "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, srv, user, maildir.LayoutFS)
	out := t.TempDir()
	mda := &maildir.MDA{Command: fmt.Sprintf(`cat > '%s'/"$(date +%%s%%N).$$"`, out)}
	withMDA := func(o *Options) { o.Store = nil; o.MDA = mda; o.Patterns = []string{"INBOX"} }

	res, _ := env.mustRun(withMDA)
	if res.Delivered != 10 {
		t.Errorf("delivered %d, want 10", res.Delivered)
	}
	delivered := func() map[[32]byte]int {
		entries, _ := os.ReadDir(out)
		m := map[[32]byte]int{}
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(out, e.Name()))
			m[sha256.Sum256(b)]++
		}
		return m
	}
	got := delivered()
	for i, m := range msgs {
		if got[sha256.Sum256(m.Raw)] != 1 {
			t.Errorf("message %d delivered %d times", i, got[sha256.Sum256(m.Raw)])
		}
	}
	if res, _ = env.mustRun(withMDA); res.Delivered != 0 || res.Unchanged != 1 {
		t.Errorf("second run: %+v, want nothing delivered and INBOX passed over on its mark", res)
	}

	// A failing MDA delivers nothing and loses nothing.
	extra := dovetest.Generate(52, 2)
	if err := srv.Seed(u, "INBOX", extra); err != nil {
		t.Fatal(err)
	}
	_, _, err := env.run(func(o *Options) { withMDA(o); o.MDA = &maildir.MDA{Command: "cat >/dev/null; exit 1"} })
	if err == nil || failure.KindOf(err) != failure.LocalIO {
		t.Errorf("failing MDA: %v, want a local failure", err)
	}
	if res, _ = env.mustRun(withMDA); res.Delivered != 2 {
		t.Errorf("after the MDA failure: delivered %d, want 2", res.Delivered)
	}

	// A UIDVALIDITY change: the state's Message-ID digests spare a new
	// delivery of everything.
	old, _ := srv.UIDValidity(u, "INBOX")
	if err := srv.SetUIDValidity(u, "INBOX", old+7); err != nil {
		t.Fatal(err)
	}
	res, log := env.mustRun(withMDA)
	if res.Delivered != 0 {
		t.Errorf("after a UIDVALIDITY change: delivered %d, want 0", res.Delivered)
	}
	if n := log.kind(report.Notice); len(n) != 1 || !strings.Contains(n[0].Text, "re-matched 12") {
		t.Errorf("notices %v", n)
	}
	if n := len(delivered()); n != 12 {
		t.Errorf("%d deliveries in all, want 12", n)
	}
}

// One folder failing does not stop the others: the run is partial.
func TestPartial(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, ppUser)
	for _, box := range []string{"Good", "Bad"} {
		if err := srv.Seed(user.Name, box, dovetest.Generate(61, 3)); err != nil {
			t.Fatal(err)
		}
	}
	env := newEnv(t, srv, user, maildir.LayoutMaildirPP)
	st := env.store()
	// A file where the folder's directory should be: the store refuses it.
	if err := os.WriteFile(filepath.Join(st.Root(), ".Bad"), []byte("not a Maildir"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, log, err := env.run(nil)
	if failure.KindOf(err) != failure.Partial {
		t.Errorf("Run: %v, want a partial failure", err)
	}
	if res.Failed != 1 || res.Folders != 2 || res.Delivered != 3 {
		t.Errorf("result %+v, want Bad failed, Good and INBOX synced", res)
	}
	errs := log.kind(report.Error)
	if len(errs) != 1 || errs[0].Folder != "Bad" {
		t.Errorf("error events %v", errs)
	}
	env.verifyMirror("Good", "Good")
}

// A 200 MB message streams through fixed buffers: the run allocates a
// small fraction of its size.
func TestLargeMessage(t *testing.T) {
	// Not parallel: it measures what the whole process allocates. Go runs
	// it before the parallel tests are released, so alone.
	if testing.Short() {
		t.Skip("200 MB")
	}
	srv, user := dovecot(t, fsUser)
	var b bytes.Buffer
	b.WriteString("From: big@example.org\nMessage-ID: <big@example.org>\nSubject: big\n\n")
	line := strings.Repeat("0123456789", 7) + "abcde\n"
	for b.Len() < 200<<20 {
		b.WriteString(line)
	}
	raw := b.Bytes()
	if err := srv.Seed(user.Name, "INBOX", []dovetest.Message{{Raw: raw}}); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(raw)
	raw, b = nil, bytes.Buffer{}
	env := newEnv(t, srv, user, maildir.LayoutFS)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, _ := env.mustRun(nil)
	runtime.ReadMemStats(&after)
	if res.Delivered != 1 {
		t.Fatalf("result %+v", res)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the run allocated %.1f MB", float64(alloc)/(1<<20))
	if alloc > 32<<20 {
		t.Errorf("the run allocated %d MB for a 200 MB message: not streamed", alloc>>20)
	}
	entries, err := scanReadOnly(env.localDir())
	if err != nil || len(entries) != 1 {
		t.Fatalf("local: %v, %v", entries, err)
	}
	h, err := fileHash(entries[0].Path)
	if err != nil || h != want {
		t.Errorf("the local copy differs from the server's (%v)", err)
	}
}
