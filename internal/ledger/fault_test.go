package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/mailfetch/mailfetch/maildir"
)

// The fault tests every engine relies on: what a failed fsync, a Publish
// that fails part way, or a crash at any step of a run leaves, and that
// the next run then delivers every message exactly once.

// memJournal is a journal in memory that knows what a crash would keep:
// the synced records surely, the ones appended since maybe (a prefix of
// them, as a crash tears a journal at most at its end). Its faults: an
// Append or Sync that fails, and step, called before each operation,
// which may panic to stop the run there (a crash).
type memJournal struct {
	mu               gosync.Mutex
	synced, unsynced [][]byte
	failAppend       func(recs [][]byte) error
	failSync         func() error
	step             func(op string)
}

func (m *memJournal) Append(recs ...[]byte) error {
	m.at("append " + string(bytes.Join(recs, []byte(", "))))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAppend != nil {
		if err := m.failAppend(recs); err != nil {
			return err
		}
	}
	for _, r := range recs {
		m.unsynced = append(m.unsynced, slices.Clone(r))
	}
	return nil
}

func (m *memJournal) Sync() error {
	m.at("sync")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSync != nil {
		if err := m.failSync(); err != nil {
			return err
		}
	}
	m.synced = append(m.synced, m.unsynced...)
	m.unsynced = nil
	return nil
}

func (m *memJournal) Rewrite(recs [][]byte) error {
	m.at("rewrite")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.synced, m.unsynced = slices.Clone(recs), nil
	return nil
}

func (m *memJournal) Close() error { return nil }

func (m *memJournal) at(op string) {
	if m.step != nil {
		m.step(op)
	}
}

// all is every record, synced or not.
func (m *memJournal) all() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append(slices.Clone(m.synced), m.unsynced...)
}

// survivors lists what a crash now may leave: the synced records and
// each prefix of the others.
func (m *memJournal) survivors() [][][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][][]byte
	for i := 0; i <= len(m.unsynced); i++ {
		out = append(out, append(slices.Clone(m.synced), m.unsynced[:i]...))
	}
	return out
}

// stepTarget publishes each staged message on its own, with a step
// before each: a crash can land between two files of a batch. Each file
// is durable once its Publish returns (maildir's own tests cover the
// inside of a Publish).
type stepTarget struct {
	*maildir.Folder
	step func(op string)
	// failFrom makes the Publish of the messages from that index of a
	// batch on fail (0: none), as a full disk would.
	failFrom int
}

func (s *stepTarget) Publish(staged ...*maildir.Staged) error {
	var errs []error
	for i, st := range staged {
		if s.step != nil {
			s.step("publish " + st.Unique())
		}
		if s.failFrom > 0 && i >= s.failFrom-1 {
			errs = append(errs, fmt.Errorf("publish %d: no space left on device", i))
			continue
		}
		if err := s.Folder.Publish(st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// An intent fsync that fails: nothing is published and tmp/ is emptied;
// the journal may hold the intents, which resolve as not delivered.
func TestFaultIntentSync(t *testing.T) {
	f := inbox(t)
	mem := &memJournal{failSync: func() error { return errors.New("fsync: EIO") }}
	l := newLedger(mem, "j", newModel().options())
	done, err := l.Deliver(f, []Delivery{stage(t, f, "a"), stage(t, f, "b")})
	if err == nil || len(done) != 0 {
		t.Fatalf("Deliver after a failed fsync: %d done, %v", len(done), err)
	}
	if got, tmp := files(t, f); len(got) != 0 || tmp != 0 {
		t.Errorf("Maildir holds %v and %d in tmp/", got, tmp)
	}
	checkRecovery(t, f, mem, nil, []string{"a", "b"})
}

// A failed append of the intents: the same, and nothing in the journal.
func TestFaultIntentAppend(t *testing.T) {
	f := inbox(t)
	mem := &memJournal{failAppend: func([][]byte) error { return errors.New("write: ENOSPC") }}
	l := newLedger(mem, "j", newModel().options())
	if done, err := l.Deliver(f, []Delivery{stage(t, f, "a")}); err == nil || len(done) != 0 {
		t.Fatalf("Deliver after a failed append: %d done, %v", len(done), err)
	}
	if got, tmp := files(t, f); len(got) != 0 || tmp != 0 {
		t.Errorf("Maildir holds %v and %d in tmp/", got, tmp)
	}
	if len(mem.all()) != 0 {
		t.Errorf("journal holds %q", mem.all())
	}
}

// A failed append of the done records: the messages are published and
// said so (with the error); their intents, synced, resolve them as
// delivered: not fetched twice.
func TestFaultDoneAppend(t *testing.T) {
	f := inbox(t)
	mem := &memJournal{failAppend: func(recs [][]byte) error {
		if recs[0][0] == KindDone {
			return errors.New("write: ENOSPC")
		}
		return nil
	}}
	l := newLedger(mem, "j", newModel().options())
	done, err := l.Deliver(f, []Delivery{stage(t, f, "a"), stage(t, f, "b")})
	if err == nil || len(done) != 2 {
		t.Fatalf("Deliver: %d done, %v", len(done), err)
	}
	checkRecovery(t, f, mem, []string{"a", "b"}, nil)
}

// A failed fsync of the done records (Sync, before acknowledging them to
// the server): the engine must not acknowledge; the intents, durable,
// resolve the messages as delivered.
func TestFaultDoneSync(t *testing.T) {
	f := inbox(t)
	syncs := 0
	mem := &memJournal{failSync: func() error {
		if syncs++; syncs > 1 {
			return errors.New("fsync: EIO")
		}
		return nil
	}}
	l := newLedger(mem, "j", newModel().options())
	if _, err := l.Deliver(f, []Delivery{stage(t, f, "a"), stage(t, f, "b")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err == nil {
		t.Fatal("Sync did not fail")
	}
	checkRecovery(t, f, mem, []string{"a", "b"}, nil)
}

// A Publish that fails part way (the disk filled up): the published are
// returned and journaled done, the others are removed from tmp/ and
// resolve as not delivered.
func TestFaultPublishPartWay(t *testing.T) {
	f := inbox(t)
	mem := &memJournal{}
	l := newLedger(mem, "j", newModel().options())
	target := &stepTarget{Folder: f, failFrom: 3}
	done, err := l.Deliver(target, []Delivery{stage(t, f, "a"), stage(t, f, "b"), stage(t, f, "c"), stage(t, f, "d")})
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Errorf("Deliver: %v, want the Publish error", err)
	}
	var got []string
	for _, d := range done {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("done %v, want a and b", got)
	}
	if _, tmp := files(t, f); tmp != 0 {
		t.Errorf("%d files left in tmp/", tmp)
	}
	m := newModel()
	for _, r := range mem.all() {
		rec, _ := Parse(r)
		m.apply(rec)
	}
	if !m.done["a"] || !m.done["b"] || m.done["c"] || m.done["d"] {
		t.Errorf("journal says done %v", m.done)
	}
	checkRecovery(t, f, mem, []string{"a", "b"}, []string{"c", "d"})
}

// checkRecovery replays every journal a crash now could leave, resolves
// it against f, and checks that each message is then either delivered
// (exactly one file) or to be fetched again (no file): exactly once
// after the next run. delivered must come out delivered whatever
// survived (they were acknowledged, or their files are durable and their
// intents synced); again must come out not delivered.
func checkRecovery(t *testing.T, f *maildir.Folder, mem *memJournal, delivered, again []string) {
	t.Helper()
	have, _ := files(t, f)
	for _, recs := range mem.survivors() {
		verdict := recover1(t, f, recs)
		for id, n := range have {
			if verdict[id] != (n == 1) || n > 1 {
				t.Errorf("journal %q: message %s has %d files, resolved delivered=%v", recs, id, n, verdict[id])
			}
		}
		for id, ok := range verdict {
			if ok && have[id] != 1 {
				t.Errorf("journal %q: message %s resolved delivered without its file", recs, id)
			}
		}
		for _, id := range delivered {
			if !verdict[id] {
				t.Errorf("journal %q: message %s not resolved delivered", recs, id)
			}
		}
		for _, id := range again {
			if verdict[id] {
				t.Errorf("journal %q: message %s resolved delivered", recs, id)
			}
		}
	}
}

// recover1 writes recs as a real journal, opens it as a new run would,
// resolves what is in doubt against f, and returns which ids are then
// delivered.
func recover1(t *testing.T, f *maildir.Folder, recs [][]byte) map[string]bool {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j")
	writeJournal(t, path, recs...)
	l, m := openModel(t, path)
	defer l.Close()
	res, err := l.Resolve(m.doubt(), find(f))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for id := range m.done {
		out[id] = true
	}
	for _, in := range res.Delivered {
		out[in.ID] = true
	}
	for _, in := range append(res.Again, res.Unsure...) {
		out[in.ID] = false
	}
	return out
}

// crash stops a run at a step.
type crash struct{ op string }

// A run killed at every step it takes, one after another: the resolve of
// an earlier crash's intents, three batches, the sync before the
// acknowledgements, another batch, a compaction. After each kill, whatever
// part of the journal survived, the next run finds every message exactly
// once, and every message acknowledged to the server is delivered.
func TestFaultCrashAtEveryStep(t *testing.T) {
	for k := 1; ; k++ {
		f, mem, acked, completed := crashRun(t, k)
		if completed {
			if k < 20 {
				t.Fatalf("the run took only %d steps", k)
			}
			t.Logf("a run of %d steps, killed at each", k-1)
			return
		}
		have, _ := files(t, f)
		for _, recs := range mem.survivors() {
			verdict := recover1(t, f, recs)
			for id, n := range have {
				if n > 1 || verdict[id] != (n == 1) {
					t.Fatalf("killed at step %d, journal %q: message %s has %d files, resolved delivered=%v", k, recs, id, n, verdict[id])
				}
			}
			for id := range acked {
				if !verdict[id] {
					t.Fatalf("killed at step %d, journal %q: message %s was acknowledged, and is lost", k, recs, id)
				}
			}
		}
	}
}

// crashRun is one run that a crash stops at step k; completed when it
// had fewer steps.
func crashRun(t *testing.T, k int) (f *maildir.Folder, mem *memJournal, acked map[string]bool, completed bool) {
	f = inbox(t)
	// An earlier crash left two intents: one whose file made it, one
	// whose did not.
	early := stage(t, f, "e1")
	if err := f.Publish(early.Staged); err != nil {
		t.Fatal(err)
	}
	mem = &memJournal{synced: recs("V 2",
		"P e1 "+maildir.EncodeField(early.Staged.Unique())+" f",
		"P e2 1.M1P1Q1R1.lost,S=9 f")}
	n := 0
	step := func(op string) {
		if n++; n == k {
			panic(crash{op})
		}
	}
	mem.step = step
	target := &stepTarget{Folder: f, step: step}
	acked = map[string]bool{}
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(crash); !ok {
				panic(v)
			}
		}
	}()
	m := newModel()
	for _, r := range mem.synced {
		rec, _ := Parse(r)
		m.apply(rec)
	}
	l := newLedger(mem, "j", m.options())
	res, err := l.Resolve(m.doubt(), find(f))
	if err != nil || len(res.Delivered) != 1 || len(res.Again) != 1 {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	var done []string
	batch := func(ids ...string) {
		var b []Delivery
		for _, id := range ids {
			b = append(b, stage(t, f, id))
		}
		ds, err := l.Deliver(target, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			done = append(done, d.ID)
		}
	}
	batch("e2", "a", "b")
	batch("c")
	batch("d", "e", "f")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(done, "e1") {
		acked[id] = true // DELE
	}
	batch("g", "h")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	var compact [][]byte
	for _, id := range []string{"e1", "e2", "a", "b", "c", "d", "e", "f", "g", "h"} {
		rec, _ := DoneRecord(Intent{ID: id, Done: []string{"d-" + id}})
		compact = append(compact, rec)
	}
	if err := l.Rewrite(compact); err != nil {
		t.Fatal(err)
	}
	return f, mem, acked, true
}

// Every byte prefix of a real journal (a crash can cut the file anywhere)
// opens: the records read are the complete ones of the prefix, the torn
// rest is cut off, and the dry open reads the same.
func TestFaultEveryPrefix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "full")
	l, _ := openModel(t, path)
	f := inbox(t)
	if _, err := l.Deliver(f, []Delivery{stage(t, f, "a"), stage(t, f, "b w")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("X a")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Deliver(f, []Delivery{stage(t, f, "c")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := maildir.ReadJournal(path)
	if err != nil || len(full) != 8 {
		t.Fatalf("%d records, %v", len(full), err)
	}
	for cut := 0; cut <= len(data); cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut%d", cut))
		if err := os.WriteFile(p, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		complete := bytes.Count(data[:cut], []byte("\n"))
		md := newModel()
		dry, err := OpenDry(p, md.options())
		if err != nil {
			t.Fatalf("cut at %d: dry: %v", cut, err)
		}
		dry.Close()
		l, m := openModel(t, p)
		l.Close()
		for _, got := range [][]Record{m.recs, md.recs} {
			if len(got) != complete {
				t.Fatalf("cut at %d: %d records, want %d", cut, len(got), complete)
			}
			for i, r := range got {
				if b, _ := r.Bytes(); !bytes.Equal(b, full[i]) {
					t.Fatalf("cut at %d: record %d is %q, want %q", cut, i+1, b, full[i])
				}
			}
		}
		want := data[:bytes.LastIndexByte(data[:cut], '\n')+1]
		if complete == 0 {
			want = data[:bytes.IndexByte(data, '\n')+1] // a new journal: its version record
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, want) {
			t.Fatalf("cut at %d: the file holds %q after the open, want %q", cut, after, want)
		}
		os.Remove(p)
	}
}

// A target that stages but cannot publish at all (every file fails): no
// done record, nothing in new/ or tmp/.
func TestFaultPublishNothing(t *testing.T) {
	f := inbox(t)
	mem := &memJournal{}
	l := newLedger(mem, "j", newModel().options())
	done, err := l.Deliver(&stepTarget{Folder: f, failFrom: 1}, []Delivery{stage(t, f, "a")})
	if err == nil || len(done) != 0 {
		t.Fatalf("%d done, %v", len(done), err)
	}
	for _, r := range mem.all() {
		if r[0] == KindDone {
			t.Errorf("done record %q for a message not published", r)
		}
	}
	if got, tmp := files(t, f); len(got) != 0 || tmp != 0 {
		t.Errorf("Maildir holds %v and %d in tmp/", got, tmp)
	}
	checkRecovery(t, f, mem, nil, []string{"a"})
}
