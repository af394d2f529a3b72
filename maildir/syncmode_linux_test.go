package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
	"golang.org/x/sys/unix"
)

func TestSyncModeFor(t *testing.T) {
	t.Parallel()
	const (
		ext4    = 0xEF53
		xfs     = 0x58465342
		btrfs   = 0x9123683E
		tmpfs   = 0x01021994
		nfs     = 0x6969
		fuse    = 0x65735546
		overlay = 0x794C7630
		cifs    = 0xFF534D42
	)
	tests := []struct {
		fsType  int64
		release string
		want    syncMode
	}{
		{ext4, "6.1.0-18-amd64", syncWholeFS},
		{ext4, "5.8.0", syncWholeFS},
		{ext4, "5.10.0-28-cloud-amd64", syncWholeFS},
		{ext4, "10.0", syncWholeFS},
		{xfs, "6.18.44-fc-v657", syncWholeFS},
		{btrfs, "5.15.0-91-generic", syncWholeFS},
		{tmpfs, "6.8.0", syncWholeFS},
		// syncfs reports no writeback errors before 5.8.
		{ext4, "5.7.19", syncEachFile},
		{ext4, "4.19.0-26-amd64", syncEachFile},
		{xfs, "3.10.0-1160.el7.x86_64", syncEachFile},
		{ext4, "", syncEachFile},
		{ext4, "garbage", syncEachFile},
		{ext4, "5", syncEachFile},
		// File systems whose syncfs is not known to flush everything and
		// report errors, whatever the kernel.
		{nfs, "6.1.0", syncEachFile},
		{fuse, "6.1.0", syncEachFile},
		{overlay, "6.1.0", syncEachFile},
		{cifs, "6.1.0", syncEachFile},
		{0, "6.1.0", syncEachFile},
	}
	for _, tt := range tests {
		if got, why := syncModeFor(tt.fsType, tt.release); got != tt.want {
			t.Errorf("syncModeFor(%#x, %q) = %v (%s), want %v", tt.fsType, tt.release, got, why, tt.want)
		}
	}
}

// TestSyncModeOfStore checks the mode a Store picks for real file systems:
// decided once per device, shared by the folders on it.
func TestSyncModeOfStore(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("syncfs(2) is Linux's")
	}
	s := openStore(t, LayoutMaildirPP)
	inbox, err := s.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(inbox.Dir(), &sfs); err != nil {
		t.Fatal(err)
	}
	want, _ := syncModeFor(int64(sfs.Type), kernelRelease())
	if inbox.fs.mode != want {
		t.Errorf("%s (type %#x): mode %v, want %v", inbox.Dir(), sfs.Type, inbox.fs.mode, want)
	}
	t.Logf("%s: %v (%s)", inbox.Dir(), inbox.fs.mode, inbox.fs.why)
	sub, err := s.Folder([]string{"Sub"})
	if err != nil {
		t.Fatal(err)
	}
	if sub.fs != inbox.fs {
		t.Errorf("two folders on one device have two file systems")
	}

	// A folder on another file system gets its own decision.
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	other := filepath.Join(s.Root(), ".Other")
	mkdir(t, other)
	mount(t, other, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs")
	of, err := s.Folder([]string{"Other"})
	if err != nil {
		t.Fatal(err)
	}
	if of.fs == inbox.fs || of.fs.mode != syncWholeFS || !strings.HasPrefix(of.fs.why, "tmpfs") {
		t.Errorf("a tmpfs folder: same file system %v, mode %v (%s)", of.fs == inbox.fs, of.fs.mode, of.fs.why)
	}
	// One Publish across both file systems.
	var staged []*Staged
	for _, f := range []*Folder{inbox, of, sub, of} {
		st, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, st)
	}
	if err := inbox.Publish(staged...); err != nil {
		t.Fatal(err)
	}
	assertFiles(t, of, 0, 2, 0)
	assertFiles(t, inbox, 0, 1, 0)
	assertReleased(t, inbox)
	assertReleased(t, of)

	// overlayfs, like FUSE and NFS, keeps an fsync per file.
	lower, upper, work, merged := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, merged).CombinedOutput(); err != nil {
		t.Logf("no overlayfs here: %v: %s", err, out)
		return
	}
	t.Cleanup(func() { umount(t, merged) })
	os2, err := Open(filepath.Join(merged, "Maildir"), LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := os2.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ov.fs.mode != syncEachFile {
		t.Errorf("overlayfs: mode %v (%s), want %v", ov.fs.mode, ov.fs.why, syncEachFile)
	}
	if _, err := ov.Deliver(context.Background(), strings.NewReader(testMsg), StageOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mount(t *testing.T, dir string, args ...string) {
	t.Helper()
	args = append(args, dir)
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount %v: %v: %s", args, err, out)
	}
	t.Cleanup(func() { umount(t, dir) })
}

func umount(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Errorf("umount %s: %v: %s", dir, err, out)
	}
}

// TestSyncfsDescriptor checks that the syncfs descriptor is opened before
// the first file of a batch and closed when nothing is staged any more.
func TestSyncfsDescriptor(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("syncfs(2) is Linux's")
	}
	forceMode(t, syncWholeFS)
	f := openInbox(t)
	assertReleased(t, f)
	a, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.fs.dir == nil || f.fs.outstanding != 1 {
		t.Fatalf("staged: descriptor %v, %d outstanding", f.fs.dir, f.fs.outstanding)
	}
	if _, err := f.Stage(context.Background(), &errReader{"Subject: x\n\nbody", syscall.ECONNRESET}, StageOptions{}); err == nil {
		t.Fatal("Stage of a failing reader succeeded")
	}
	b, err := f.Stage(context.Background(), strings.NewReader(testMsg), StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.fs.outstanding != 2 {
		t.Errorf("%d outstanding, want 2", f.fs.outstanding)
	}
	if err := f.Publish(a); err != nil {
		t.Fatal(err)
	}
	if f.fs.dir == nil || f.fs.outstanding != 1 {
		t.Errorf("one published: descriptor %v, %d outstanding", f.fs.dir, f.fs.outstanding)
	}
	f.Discard(b, a)
	f.Discard(b) // twice is harmless
	assertReleased(t, f)
	assertFiles(t, f, 0, 1, 0)
}

// TestSyncfsFailureSpansBatches injects one failing syncfs. The failed
// batch is renamed nowhere, and so is a batch staged before the failure
// whose own syncfs then succeeds: the kernel reports a writeback error to
// one syncfs only, and it may have been that batch's file that failed.
// A batch started after the failure is delivered.
func TestSyncfsFailureSpansBatches(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("syncfs(2) is Linux's")
	}
	forceMode(t, syncWholeFS)
	calls := 0
	dirSyncs := 0
	setUpStores(t, func(s *Store) {
		s.seams.syncFS = func(f *os.File) error {
			if calls++; calls == 1 {
				return syscall.EIO
			}
			return unix.Syncfs(int(f.Fd()))
		}
		s.seams.syncPublishDir = func(dir string) error { dirSyncs++; return syncDir(dir) }
	})

	f := openInbox(t)
	stage := func(n int) []*Staged {
		var out []*Staged
		for i := range n {
			st, err := f.Stage(context.Background(), strings.NewReader(fmt.Sprintf("Subject: %d\n\n%s", i, testMsg)), StageOptions{Flags: Flags("S")[:i%2]})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st)
		}
		return out
	}
	a, b := stage(3), stage(2)
	check := func(name string, batch []*Staged, leftInTmp int) {
		t.Helper()
		err := f.Publish(batch...)
		if !errors.Is(err, syscall.EIO) || failure.KindOf(err) != failure.LocalIO || !strings.Contains(err.Error(), ": syncfs: input/output error") {
			t.Errorf("Publish(%s): %v (kind %v)", name, err, failure.KindOf(err))
		}
		for _, st := range batch {
			if st.Path() != "" {
				t.Errorf("%s: Path() = %q after a failed syncfs", name, st.Path())
			}
		}
		if dirSyncs != 0 {
			t.Errorf("%s: a directory was fsynced: something was renamed", name)
		}
		assertFiles(t, f, leftInTmp, 0, 0)
	}
	check("the failing batch", a, len(b))
	check("a batch staged before the failure", b, 0)
	if calls != 2 {
		t.Errorf("%d syncfs calls, want 2", calls)
	}
	c := stage(4)
	if err := f.Publish(c...); err != nil {
		t.Fatalf("Publish of a batch staged after the failure: %v", err)
	}
	assertFiles(t, f, 0, 2, 2)
	assertReleased(t, f)
}

// TestPublishWritebackError writes through a real ext4 whose disk fails
// writes once it is full: a loop device over a file on a small tmpfs. The
// kernel accepts the writes into its page cache and fails them on
// writeback. In both modes, every message Publish called durable must be
// intact on the disk, read back after the file system was unmounted and
// mounted again, and at least one Publish must fail.
func TestPublishWritebackError(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 100 MB")
	}
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("needs root on Linux (tmpfs, loop device, ext4)")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	inEachSyncMode(t, testPublishWritebackError)
}

func testPublishWritebackError(t *testing.T) {
	back, mnt := t.TempDir(), t.TempDir()
	mount(t, back, "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs")
	img := filepath.Join(back, "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 256<<20); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Skipf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", img)
	dev := run("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	mountExt4 := func() {
		t.Helper()
		if out, err := exec.Command("mount", "-t", "ext4", "-o", "noinit_itable,errors=continue", dev, mnt).CombinedOutput(); err != nil {
			t.Fatalf("mount %s: %v: %s", dev, err, out)
		}
	}
	mountExt4()
	mounted := true
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", mnt).Run()
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
	// 64 KB messages, each with its own content, in batches of 32 (2 MB):
	// the disk is full after about 20 MB.
	body := func(n int) []byte {
		b := bytes.Repeat([]byte(fmt.Sprintf("message %06d ", n)), 64<<10/15)
		return append([]byte(fmt.Sprintf("Subject: %d\n\n", n)), b...)
	}
	published := map[string]int{} // path → message number
	failures := 0
	n := 0
	for batch := 0; batch < 50 && failures < 3; batch++ {
		var staged []*Staged
		var nums []int
		for range 32 {
			st, err := f.Stage(context.Background(), bytes.NewReader(body(n)), StageOptions{})
			if err != nil {
				t.Logf("batch %d: Stage: %v", batch, err)
				break
			}
			staged = append(staged, st)
			nums = append(nums, n)
			n++
		}
		if err := f.Publish(staged...); err != nil {
			failures++
			t.Logf("batch %d: Publish: %.200s", batch, err)
		}
		for i, st := range staged {
			if p := st.Path(); p != "" {
				published[p] = nums[i]
			}
		}
		f.Discard(staged...)
		if len(staged) == 0 {
			failures++
		}
	}
	if failures == 0 {
		t.Errorf("%d messages published on a disk that fails writes", len(published))
	}
	t.Logf("%d messages published, %d failures", len(published), failures)

	// What is on the disk: drop the page cache with the mount.
	syscall.Sync()
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	mounted = false
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -d: %v: %s", err, out)
	}
	// Room again on the backing tmpfs, so that mounting can replay the
	// journal.
	exec.Command("mount", "-o", "remount,size=64m", back).Run()
	dev = run("losetup", "-f", "--show", img)
	if out, err := exec.Command("fsck.ext4", "-p", dev).CombinedOutput(); err != nil {
		t.Logf("fsck: %v: %s", err, out)
	}
	mountExt4()
	mounted = true
	bad := 0
	for p, num := range published {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, body(num)) {
			if bad++; bad <= 5 {
				t.Errorf("message %d published as %s is not intact on disk: %v (%d bytes)", num, filepath.Base(p), err, len(got))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d published messages lost", bad, len(published))
	}
}
