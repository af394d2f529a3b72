package maildir

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// mixSizes are the sizes of the PEERS.md mailbox: 85 % 2–20 KB, 12 %
// 20–100 KB, 3 % 100 KB–2 MB, from a fixed seed (about 340 MB for 10,000).
func mixSizes(n int) []int {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, n)
	for i := range sizes {
		switch p := rng.IntN(100); {
		case p < 85:
			sizes[i] = 2_000 + rng.IntN(18_000)
		case p < 97:
			sizes[i] = 20_000 + rng.IntN(80_000)
		default:
			sizes[i] = 100_000 + rng.IntN(1_900_000)
		}
	}
	return sizes
}

// mixText is the bytes the messages are cut from: text lines, so that
// no file system gets an easy run of zeros.
var mixText = func() []byte {
	var b bytes.Buffer
	b.WriteString("From: bench@example.org\r\nSubject: mix\r\n\r\n")
	rng := rand.New(rand.NewPCG(3, 4))
	for b.Len() < 2_000_000 {
		for range 76 {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}()

// deliverMix delivers the messages of sizes into a fresh store below dir
// the way fetch/ does: Stage from one goroutine, each batch of 64 handed
// to a committer goroutine (one batch queued) that publishes it while the
// next is staged.
func deliverMix(tb testing.TB, dir string, sizes []int, batch int) {
	s, err := openAt(tb, filepath.Join(dir, "Maildir"), LayoutMaildirPP)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := s.Folder(nil)
	if err != nil {
		tb.Fatal(err)
	}
	batches := make(chan []*Staged, 1)
	errc := make(chan error, 1)
	go func() {
		var first error
		for b := range batches {
			if first != nil {
				continue
			}
			first = f.Publish(b...)
		}
		errc <- first
	}()
	ctx := context.Background()
	cur := make([]*Staged, 0, batch)
	for i, size := range sizes {
		st, err := f.Stage(ctx, bytes.NewReader(mixText[:size]), StageOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		cur = append(cur, st)
		if len(cur) == batch || i == len(sizes)-1 {
			batches <- cur
			cur = make([]*Staged, 0, batch)
		}
	}
	close(batches)
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDeliverMix10000 delivers the 10,000 messages of the PEERS.md
// mix (about 340 MB) in batches of 64, as fetch/ does, in each durability
// mode (see syncBenchCases). Run it with -benchtime=1x -count=N: one
// iteration is seconds long.
//
// Nothing is removed until the benchmark ends, and MAILFETCH_BENCH_DIR
// (a directory of its own, ideally just made at the top of the file
// system) moves the files out of the system's temporary directory. On
// ext4 without a journal (this project's test machines) creating a file
// next to thousands deleted in the last minutes costs 0.3–0.6 ms more:
// the inode allocator skips every recently deleted inode
// (recently_deleted in fs/ext4/ialloc.c). Removing one iteration's files
// would slow the next, and a shared /tmp is slowed by whatever else runs.
func BenchmarkDeliverMix10000(b *testing.B) {
	sizes := mixSizes(10000)
	var total int64
	for _, n := range sizes {
		total += int64(n)
	}
	base := os.Getenv("MAILFETCH_BENCH_DIR")
	for _, c := range syncBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			c.set(b)
			parent := base
			if parent == "" {
				parent = b.TempDir()
			}
			for b.Loop() {
				b.StopTimer()
				dir, err := os.MkdirTemp(parent, "mix")
				if err != nil {
					b.Fatal(err)
				}
				unix.Sync()
				b.StartTimer()
				deliverMix(b, dir, sizes, 64)
			}
			b.ReportMetric(float64(len(sizes)*b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.SetBytes(total)
		})
	}
}

type syncBenchCase struct {
	name string
	set  func(b *testing.B)
}

// syncBenchCases are the durability set-ups compared: syncfs per batch,
// and an fsync per file with pools of several sizes (32 is the default).
// MAILFETCH_BENCH_SLOTS=all adds pool sizes 1 to 128.
func syncBenchCases() []syncBenchCase {
	cases := []syncBenchCase{{"syncfs", func(b *testing.B) { forceMode(b, syncWholeFS) }}}
	slots := []int{32}
	if os.Getenv("MAILFETCH_BENCH_SLOTS") == "all" {
		slots = []int{1, 4, 8, 16, 32, 64, 128}
	}
	for _, n := range slots {
		cases = append(cases, syncBenchCase{fmt.Sprintf("fsync-pool=%d", n), func(b *testing.B) {
			forceMode(b, syncEachFile)
			setUpStores(b, func(s *Store) { s.syncSlots = make(chan struct{}, n) })
		}})
	}
	return cases
}
