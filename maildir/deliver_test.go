package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
)

const testMsg = "From: Alice <alice@example.org>\r\nSubject: test\r\nMessage-ID: <t1@example.org>\r\n\r\nHello.\r\n"

func TestDeliverNewAndCur(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testDeliverNewAndCur)
}

func testDeliverNewAndCur(t *testing.T) {
	tests := []struct {
		name     string
		opt      StageOptions
		wantDir  string
		wantInfo string
	}{
		{"new", StageOptions{}, "new", ""},
		{"cur without flags", StageOptions{Cur: true}, "cur", ":2,"},
		{"cur with flags", StageOptions{Cur: true, Flags: "SF"}, "cur", ":2,FS"},
		{"flags imply cur", StageOptions{Flags: "S"}, "cur", ":2,S"},
		{"flags canonicalized", StageOptions{Cur: true, Flags: "TaS\x00:S"}, "cur", ":2,STa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openInbox(t)
			st, err := f.Deliver(context.Background(), strings.NewReader(testMsg), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(testMsg)); st.Size() != want {
				t.Errorf("Size() = %d, want %d", st.Size(), want)
			}
			if !strings.HasSuffix(st.Unique(), fmt.Sprintf(",S=%d", len(testMsg))) {
				t.Errorf("Unique() = %q, without the exact size", st.Unique())
			}
			want := filepath.Join(f.Dir(), tt.wantDir, st.Unique()+tt.wantInfo)
			if st.Path() != want {
				t.Errorf("Path() = %q, want %q", st.Path(), want)
			}
			assertMode(t, st.Path(), 0o600)
			if got, _ := os.ReadFile(st.Path()); string(got) != testMsg {
				t.Errorf("content %q", got)
			}
			if n := names(t, filepath.Join(f.Dir(), "tmp")); len(n) != 0 {
				t.Errorf("tmp/ holds %q after delivery", n)
			}
			if e, ok, err := f.Find(st.Unique()); err != nil || !ok || e.Path != st.Path() || e.Unique != st.Unique() {
				t.Errorf("Find(%q) = %+v, %v, %v", st.Unique(), e, ok, err)
			}
			h := st.Header()
			if h.From != "Alice <alice@example.org>" || h.Subject != "test" || h.MessageID != "t1@example.org" {
				t.Errorf("Header() = %+v", h)
			}
		})
	}
}

func TestDeliverModTime(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testDeliverModTime)
}

func testDeliverModTime(t *testing.T) {
	f := openInbox(t)
	mt := time.Date(2009, 2, 13, 23, 31, 30, 0, time.UTC)
	st, err := f.Deliver(context.Background(), strings.NewReader(testMsg), StageOptions{ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mt) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), mt)
	}
	// A message staged with an old time is not stale tmp/ to CleanTmp.
	st2, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{ModTime: mt})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.CleanTmp(staleTmpAge); err != nil || n != 0 {
		t.Errorf("CleanTmp removed %d staged files (%v)", n, err)
	}
	if err := f.Publish(st2); err != nil {
		t.Fatal(err)
	}
}

func TestStageConcurrent(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testStageConcurrent)
}

func testStageConcurrent(t *testing.T) {
	s := openStore(t, LayoutMaildirPP)
	folders := make([]*Folder, 3)
	for i := range folders {
		var err error
		if folders[i], err = s.Folder([]string{fmt.Sprintf("F%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	all := make([][]*Staged, workers)
	for w := range workers {
		wg.Go(func() {
			f := folders[w%len(folders)]
			var batch []*Staged
			for i := range perWorker {
				msg := fmt.Sprintf("Subject: w%d m%d\n\n%s", w, i, strings.Repeat("x", w*100+i))
				st, err := f.Stage(context.Background(), strings.NewReader(msg), StageOptions{})
				if err != nil {
					errs <- err
					return
				}
				batch = append(batch, st)
				if len(batch) == 16 {
					if err := f.Publish(batch...); err != nil {
						errs <- err
						return
					}
					batch = batch[:0]
				}
			}
			all[w] = batch // the rest, published together below
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var rest []*Staged
	for _, b := range all {
		rest = append(rest, b...)
	}
	// One Publish for messages of several folders.
	if err := folders[0].Publish(rest...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range folders {
		if n := names(t, filepath.Join(f.Dir(), "tmp")); len(n) != 0 {
			t.Errorf("%s: tmp/ holds %d files", f.Dir(), len(n))
		}
		entries, err := f.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(e.Path)
			if err != nil {
				t.Fatal(err)
			}
			subj := strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "Subject: ")
			if seen[subj] {
				t.Errorf("message %q twice", subj)
			}
			seen[subj] = true
			var w, i int
			fmt.Sscanf(subj, "w%d m%d", &w, &i)
			if !strings.HasSuffix(string(b), "\n\n"+strings.Repeat("x", w*100+i)) {
				t.Errorf("message %q has wrong content", subj)
			}
		}
	}
	if len(seen) != workers*perWorker {
		t.Errorf("%d messages delivered, want %d", len(seen), workers*perWorker)
	}
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testDiscard)
}

func testDiscard(t *testing.T) {
	f := openInbox(t)
	var staged []*Staged
	for range 3 {
		st, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, st)
	}
	if err := f.Publish(staged[0]); err != nil {
		t.Fatal(err)
	}
	f.Discard(staged...)
	assertFiles(t, f, 0, 1, 0)
	if _, err := os.Stat(staged[0].Path()); err != nil {
		t.Errorf("Discard removed a published message: %v", err)
	}
	if err := f.Publish(staged[1]); err == nil || !strings.Contains(err.Error(), "discarded") {
		t.Errorf("Publish after Discard: %v", err)
	}
	if staged[1].Path() != "" {
		t.Errorf("discarded message has Path %q", staged[1].Path())
	}
	// Publishing twice is harmless.
	if err := f.Publish(staged[0]); err != nil {
		t.Errorf("second Publish: %v", err)
	}
	assertFiles(t, f, 0, 1, 0)
}

// errReader returns its data, then err.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFailedDelivery(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testFailedDelivery)
}

func testFailedDelivery(t *testing.T) {
	netErr := failure.Wrap(failure.Temporary, errors.New("connection reset by peer"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     func() context.Context
		r       func(cancel context.CancelFunc) io.Reader
		wantErr error
		kind    failure.Kind
	}{
		{
			name:    "reader error",
			r:       func(context.CancelFunc) io.Reader { return &errReader{strings.Repeat("x", 100000), netErr} },
			wantErr: netErr, kind: failure.Temporary,
		},
		{
			name:    "short read",
			r:       func(context.CancelFunc) io.Reader { return &errReader{"Subject: cut\r\n\r\nhal", io.ErrUnexpectedEOF} },
			wantErr: io.ErrUnexpectedEOF, kind: failure.Other,
		},
		{
			name:    "context cancelled before",
			ctx:     func() context.Context { return cancelled },
			r:       func(context.CancelFunc) io.Reader { return strings.NewReader(testMsg) },
			wantErr: context.Canceled, kind: failure.Other,
		},
		{
			name: "context cancelled while streaming",
			r: func(cancel context.CancelFunc) io.Reader {
				return io.MultiReader(strings.NewReader(strings.Repeat("y", 3*bufSize)), readerFunc(func(p []byte) (int, error) {
					cancel()
					return copy(p, "more"), nil
				}), strings.NewReader(strings.Repeat("z", 3*bufSize)))
			},
			wantErr: context.Canceled, kind: failure.Other,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openInbox(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			st, err := f.Deliver(ctx, tt.r(cancel), StageOptions{Cur: true, Flags: "S"})
			if err == nil {
				t.Fatalf("Deliver succeeded: %s", st.Path())
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want one matching %v", err, tt.wantErr)
			}
			if k := failure.KindOf(err); k != tt.kind {
				t.Errorf("kind %v, want %v", k, tt.kind)
			}
			if want := "maildir: deliver into " + filepath.Join(f.Dir(), "tmp"); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			assertFiles(t, f, 0, 0, 0)
		})
	}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestPublishNeverOverwrites(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testPublishNeverOverwrites)
}

func testPublishNeverOverwrites(t *testing.T) {
	f := openInbox(t)
	st, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Another message that took the name meanwhile (it cannot happen with
	// NewUnique's names; the guard is what is tested).
	writeFile(t, st.dest, "the other message")
	err = f.Publish(st)
	if err == nil || !errors.Is(err, fs.ErrExist) || failure.KindOf(err) != failure.LocalIO {
		t.Fatalf("Publish onto an existing file: %v", err)
	}
	if got, _ := os.ReadFile(st.dest); string(got) != "the other message" {
		t.Errorf("existing file overwritten: %q", got)
	}
	if st.Path() != "" {
		t.Errorf("Path() = %q after a failed Publish", st.Path())
	}
	assertFiles(t, f, 0, 1, 0)
}

func TestLinkRenameFallback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFile(t, a, "A")
	writeFile(t, b, "B")
	if err := linkRename(a, b); !errors.Is(err, fs.ErrExist) {
		t.Errorf("linkRename onto an existing file: %v", err)
	}
	c := filepath.Join(dir, "c")
	if err := linkRename(a, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(c); string(got) != "A" {
		t.Errorf("renamed file holds %q", got)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name still there: %v", err)
	}
	if err := linkRename(a, filepath.Join(dir, "d")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("linkRename of a missing file: %v", err)
	}
}

// TestDeliverENOSPC fills a small tmpfs: a failed delivery leaves nothing
// behind and says what failed where.
func TestDeliverENOSPC(t *testing.T) {
	t.Parallel()
	inEachSyncMode(t, testDeliverENOSPC)
}

func testDeliverENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	s, err := openAt(t, filepath.Join(mnt, "Maildir"), LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("delivery succeeded on a full disk")
		}
		if !errors.Is(err, syscall.ENOSPC) || failure.KindOf(err) != failure.LocalIO {
			t.Errorf("error %v (kind %v), want ENOSPC of kind LocalIO", err, failure.KindOf(err))
		}
		want := "maildir: deliver into " + filepath.Join(f.Dir(), "tmp") + ": write: no space left on device"
		if err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		assertFiles(t, f, 0, 0, 0)
	}
	t.Run("message larger than the disk", func(t *testing.T) {
		big := strings.Repeat("z", 2<<20)
		_, err := f.Deliver(context.Background(), strings.NewReader("Subject: big\n\n"+big), StageOptions{})
		check(t, err)
	})
	t.Run("disk already full", func(t *testing.T) {
		fill := filepath.Join(mnt, "fill")
		fh, err := os.Create(fill)
		if err != nil {
			t.Fatal(err)
		}
		_, werr := fh.Write(make([]byte, 2<<20))
		fh.Close()
		defer os.Remove(fill)
		if !errors.Is(werr, syscall.ENOSPC) {
			t.Fatalf("filling the disk: %v", werr)
		}
		_, err = f.Stage(context.Background(), strings.NewReader(strings.Repeat("m", 8192)), StageOptions{})
		check(t, err)
	})
}

func TestHeaderCases(t *testing.T) {
	t.Parallel()
	f := openInbox(t)
	for _, row := range readTable(t, "headers/cases.txt") {
		t.Run(row[0], func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "headers", row[0]))
			if err != nil {
				t.Fatal(err)
			}
			want := Header{MessageID: row[1], From: row[2], Subject: row[3]}
			if row[4] != "" {
				if want.Date, err = time.Parse(time.RFC3339, row[4]); err != nil {
					t.Fatal(err)
				}
			}
			st, err := f.Deliver(context.Background(), bytes.NewReader(raw), StageOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Header(); !sameHeader(got, want) {
				t.Errorf("Header() =\n%+v\nwant\n%+v", got, want)
			}
			// The same, fed in small chunks: the header's end straddles them.
			for _, size := range []int{1, 2, 3, 7} {
				var hc headerCapture
				for b := raw; len(b) > 0; b = b[min(size, len(b)):] {
					hc.feed(b[:min(size, len(b))])
				}
				if got := hc.result(); !sameHeader(got, want) {
					t.Errorf("chunks of %d: %+v", size, got)
				}
			}
		})
	}
}

func sameHeader(a, b Header) bool {
	return a.MessageID == b.MessageID && a.From == b.From && a.Subject == b.Subject && a.Date.Equal(b.Date)
}

func TestHeaderBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("Message-ID: <early@x>\n")
	for b.Len() < maxHeader+1000 {
		b.WriteString("X-Filler: " + strings.Repeat("f", 70) + "\n")
	}
	b.WriteString("Subject: too late\n\nbody\n")
	var hc headerCapture
	hc.feed([]byte(b.String()))
	if len(hc.buf) > 0 || cap(hc.buf) > maxHeader {
		t.Errorf("capture holds %d bytes (cap %d)", len(hc.buf), cap(hc.buf))
	}
	h := hc.result()
	if h.MessageID != "early@x" || h.Subject != "" {
		t.Errorf("Header = %+v, want the Message-ID and no Subject", h)
	}
	long := "Subject: " + strings.Repeat("ü", 3000) + "\n\n"
	if h := parseHeader([]byte(long)); len(h.Subject) > maxField || !strings.HasPrefix(h.Subject, "üü") {
		t.Errorf("long subject kept %d bytes", len(h.Subject))
	}
}

// bodyReader produces a message of size bytes without holding it.
type bodyReader struct{ left int64 }

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range p[:n] {
		p[i] = 'a' + byte(i%26)
		if i%77 == 76 {
			p[i] = '\n'
		}
	}
	r.left -= n
	return int(n), nil
}

// TestDeliverLargeMessageMemory streams a 200 MB message: what the
// delivery allocates must not grow with the message (DESIGN.md invariant 4).
func TestDeliverLargeMessageMemory(t *testing.T) { inEachSyncMode(t, testDeliverLargeMessageMemory) }

func testDeliverLargeMessageMemory(t *testing.T) {
	size := int64(200 << 20)
	if testing.Short() {
		size = 20 << 20
	}
	f := openInbox(t)
	r := io.MultiReader(strings.NewReader("Subject: large\r\n\r\n"), &bodyReader{left: size})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := f.Deliver(context.Background(), r, StageOptions{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != size+18 {
		t.Errorf("Size() = %d", st.Size())
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d MB message: %d KiB allocated in all, heap in use grew by %d KiB", size>>20, allocated>>10, grown>>10)
	if allocated > 2<<20 {
		t.Errorf("delivering %d MB allocated %d KiB: memory grows with the message", size>>20, allocated>>10)
	}
	if grown > 4<<20 {
		t.Errorf("heap in use grew by %d KiB", grown>>10)
	}
}

// assertFiles checks how many files are in tmp/, new/ and cur/.
func assertFiles(t *testing.T, f *Folder, tmp, new, cur int) {
	t.Helper()
	for sub, want := range map[string]int{"tmp": tmp, "new": new, "cur": cur} {
		if got := names(t, filepath.Join(f.Dir(), sub)); len(got) != want {
			t.Errorf("%s/ holds %d files %q, want %d", sub, len(got), got, want)
		}
	}
}

// BenchmarkDeliver10000Small delivers 10,000 small messages in batches of
// 256 the way the engines do: Stage each, then one Publish per batch; in
// each durability mode (see syncBenchCases).
func BenchmarkDeliver10000Small(b *testing.B) {
	const n, batch = 10000, 256
	msg := []byte("From: bench@example.org\r\nSubject: benchmark\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 200))
	ctx := context.Background()
	for _, c := range syncBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			c.set(b)
			for b.Loop() {
				s, err := openAt(b, filepath.Join(b.TempDir(), "Maildir"), LayoutMaildirPP)
				if err != nil {
					b.Fatal(err)
				}
				f, err := s.Folder(nil)
				if err != nil {
					b.Fatal(err)
				}
				staged := make([]*Staged, 0, batch)
				for i := range n {
					st, err := f.Stage(ctx, bytes.NewReader(msg), StageOptions{})
					if err != nil {
						b.Fatal(err)
					}
					staged = append(staged, st)
					if len(staged) == batch || i == n-1 {
						if err := f.Publish(staged...); err != nil {
							b.Fatal(err)
						}
						staged = staged[:0]
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.SetBytes(int64(n * len(msg)))
		})
	}
}

// TestPublishFsyncFails injects EIO into the fsyncs, and into the syncfs
// of the other mode: the messages are removed, nothing is left in tmp/,
// new/ or cur/, and the error is LocalIO.
func TestPublishFsyncFails(t *testing.T) {
	t.Parallel()
	eio := &fs.PathError{Op: "sync", Path: "x", Err: syscall.EIO}
	tests := []struct {
		name    string
		mode    syncMode
		inject  func(*seams)
		wantErr string
	}{
		{"file fsync", syncEachFile, func(s *seams) { s.syncFile = func(*os.File) error { return eio } }, ": fsync: input/output error"},
		{"directory fsync", syncEachFile, func(s *seams) { s.syncPublishDir = func(string) error { return eio } }, "input/output error"},
		{"syncfs", syncWholeFS, func(s *seams) { s.syncFS = func(*os.File) error { return syscall.EIO } }, ": syncfs: input/output error"},
		{"directory fsync after syncfs", syncWholeFS, func(s *seams) { s.syncPublishDir = func(string) error { return eio } }, "input/output error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode == syncWholeFS && runtime.GOOS != "linux" {
				t.Skip("syncfs is Linux's")
			}
			forceMode(t, tt.mode)
			setUpStores(t, func(s *Store) { tt.inject(&s.seams) })
			f := openInbox(t)
			var staged []*Staged
			for _, opt := range []StageOptions{{}, {Flags: "S"}, {}} {
				st, err := f.Stage(context.Background(), strings.NewReader(testMsg), opt)
				if err != nil {
					t.Fatal(err)
				}
				staged = append(staged, st)
			}
			err := f.Publish(staged...)
			if err == nil || !errors.Is(err, syscall.EIO) || failure.KindOf(err) != failure.LocalIO || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Publish: %v (kind %v)", err, failure.KindOf(err))
			}
			for _, st := range staged {
				if st.Path() != "" {
					t.Errorf("Path() = %q after a failed fsync", st.Path())
				}
			}
			f.Discard(staged...)
			assertFiles(t, f, 0, 0, 0)
			assertReleased(t, f)
		})
	}
}
