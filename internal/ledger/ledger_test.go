package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// Open hands every record to the engine in order, decoded, numbered.
func TestOpenReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	writeJournal(t, path, recs("V 1", "P a%20b 1.M1,S=3 f", "X zz", "D a%20b d", "V 2")...)
	l, m := openModel(t, path)
	defer l.Close()
	var kinds []byte
	for i, r := range m.recs {
		kinds = append(kinds, r.Kind)
		if r.N != i+1 {
			t.Errorf("record %d numbered %d", i+1, r.N)
		}
	}
	if string(kinds) != "VPXDV" {
		t.Errorf("kinds %q", kinds)
	}
	if in := m.recs[1].Intent; in.ID != "a b" || in.Unique != "1.M1,S=3" || len(in.Fields) != 1 {
		t.Errorf("intent %+v", in)
	}
	if !m.done["a b"] || len(m.doubt()) != 0 {
		t.Errorf("state done %v, doubt %v", m.done, m.doubt())
	}
}

// The one corrupt-record rule: a record that does not parse, one the
// engine refuses, or one damaged before the last fails the open with
// LocalIO, naming the file, the record and what to do; the file is left
// as it was. The same for a dry open.
func TestOpenRefusesDamage(t *testing.T) {
	good := []string{"V 1", "P a u.1 f", "D a d"}
	for _, tc := range []struct {
		name   string
		data   func(path string) []byte
		record string
	}{
		{"unparsable", journalOf("V 1", "P a", "D a d"), "record 2"},
		{"bad escape", journalOf("V 1", "D a%2", "D a d"), "record 2"},
		{"engine refuses", journalOf("V 1", "X a b", "D a d"), "record 2"},
		{"unknown kind", journalOf("V 1", "D a d", "Q what", "D a d"), "record 3"},
		{"unparsable last", journalOf(append(good, "P b")...), "record 4"},
		{"bad checksum", func(string) []byte {
			data := journalOf(good...)("")
			return bytes.Replace(data, []byte("P a u.1 f"), []byte("P a u.2 f"), 1)
		}, "record 2"},
		{"garbage line", func(string) []byte { return append([]byte("garbage\n"), journalOf(good...)("")...) }, "record 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.journal")
			data := tc.data(path)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, open := range []func(string, Options) (*Ledger, error){Open, OpenDry} {
				l, err := open(path, newModel().options())
				if err == nil {
					l.Close()
					t.Fatalf("opened a damaged journal")
				}
				msg := err.Error()
				if failure.KindOf(err) != failure.LocalIO || !strings.Contains(msg, path) || !strings.Contains(msg, tc.record) ||
					!strings.Contains(msg, "move it away") || strings.Contains(msg, "\n") {
					t.Errorf("error %q (kind %v): want LocalIO, one line naming %s, %s and what to do", msg, failure.KindOf(err), path, tc.record)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
					t.Errorf("a damaged journal was changed")
				}
			}
		})
	}
}

// journalOf frames records as a maildir journal does: the CRC-32C of
// each payload in hex, a space, the payload, a newline.
func journalOf(lines ...string) func(string) []byte {
	return func(string) []byte {
		var b []byte
		for _, l := range lines {
			b = fmt.Appendf(b, "%08x %s\n", crc32.Checksum([]byte(l), crc32.MakeTable(crc32.Castagnoli)), l)
		}
		return b
	}
}

// Options.Advice replaces the default advice.
func TestOpenAdvice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	writeJournal(t, path, recs("V 1", "P a")...)
	opt := newModel().options()
	opt.Advice = "do this"
	_, err := Open(path, opt)
	if err == nil || !strings.HasSuffix(err.Error(), ": do this") {
		t.Errorf("got %v", err)
	}
}

// A torn or corrupt last record is what a crash leaves: Open ignores and
// cuts it, OpenDry ignores it and leaves the file alone.
func TestOpenTornTail(t *testing.T) {
	for _, tail := range []string{"0123abcd P b u.2", "00000000 garbage\n", "P b"} {
		path := filepath.Join(t.TempDir(), "j")
		writeJournal(t, path, recs("V 1", "P a u.1 f")...)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(tail)
		f.Close()
		before, _ := os.ReadFile(path)
		ld, md := newModel(), newModel()
		dry, err := OpenDry(path, md.options())
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		dry.Close()
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("tail %q: OpenDry changed the file", tail)
		}
		l, err := Open(path, ld.options())
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		l.Close()
		if len(ld.recs) != 2 || len(md.recs) != 2 {
			t.Errorf("tail %q: %d and %d records, want 2", tail, len(ld.recs), len(md.recs))
		}
		if after, _ := os.ReadFile(path); bytes.Contains(after, []byte(strings.TrimSuffix(tail, "\n"))) {
			t.Errorf("tail %q: not cut off", tail)
		}
	}
}

// A journal of a newer version is refused (LocalIO), before the engine
// sees the records after the version record.
func TestOpenNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	writeJournal(t, path, recs("V 3", "Z future record")...)
	m := newModel()
	_, err := Open(path, m.options())
	if failure.KindOf(err) != failure.LocalIO || err == nil || !strings.Contains(err.Error(), "newer mailfetch (version 3") {
		t.Errorf("got %v", err)
	}
	if len(m.recs) != 0 {
		t.Errorf("the engine saw %d records of a newer journal", len(m.recs))
	}
}

// A dry ledger reads a missing journal as empty and creates nothing; it
// writes nothing, and refuses to deliver.
func TestOpenDry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "none", "j")
	l, err := OpenDry(path, newModel().options())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("X a")); err != nil {
		t.Error(err)
	}
	if err := l.Sync(); err != nil {
		t.Error(err)
	}
	if err := l.Rewrite(nil); err != nil {
		t.Error(err)
	}
	f := inbox(t)
	d := stage(t, f, "a")
	if done, err := l.Deliver(f, []Delivery{d}); err == nil || len(done) != 0 {
		t.Errorf("a dry ledger delivered: %v %v", done, err)
	}
	if _, err := l.DeliverNow(Intent{ID: "b"}, func() (*maildir.Staged, error) {
		t.Error("a dry ledger ran a delivery")
		return nil, nil
	}); err == nil {
		t.Error("a dry ledger delivered to an MDA")
	}
	l.Close()
	if _, err := os.Stat(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry ledger created something: %v", err)
	}
	if got, tmp := files(t, f); len(got) != 0 || tmp != 0 {
		t.Errorf("a refused dry delivery left %v and %d in tmp/", got, tmp)
	}
}

// A new journal starts with the version record, and says so on reopen.
func TestOpenNewJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	l, m := openModel(t, path)
	if len(m.recs) != 0 {
		t.Fatalf("a new journal replayed %d records", len(m.recs))
	}
	if err := l.Append([]byte("X a")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := maildir.ReadJournal(path)
	if want := recs("V 2", "X a"); err != nil || !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("new journal holds %q, %v; want %q", got, err, want)
	}
	l, m = openModel(t, path)
	l.Close()
	if len(m.recs) != 2 || m.recs[0].Kind != KindVersion || m.recs[0].Version != 2 {
		t.Errorf("reopened: %+v", m.recs)
	}
}

// Append takes the engine's records only; Rewrite writes the version
// first and keeps whatever records it is given but V.
func TestAppendRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	l, _ := openModel(t, path)
	for _, rec := range []string{"V 1", "P a u", "D a", "x", "X a b\n"} {
		if err := l.Append([]byte(rec)); err == nil {
			t.Errorf("Append(%q) accepted", rec)
		}
	}
	if err := l.Rewrite(recs("V 2")); err == nil {
		t.Errorf("Rewrite took a version record")
	}
	if err := l.Append([]byte("X a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Rewrite(recs("P a u.1 f", "D b d", "X c")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := maildir.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := recs("V 2", "P a u.1 f", "D b d", "X c"); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("rewritten journal %q, want %q", got, want)
	}
}

// Deliver: intents synced before the publish, done records after it, for
// the published only; a delivery without an id is published unrecorded.
func TestDeliver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	l, _ := openModel(t, path)
	f := inbox(t)
	batch := []Delivery{stage(t, f, "a"), stage(t, f, "b")}
	noID := stage(t, f, "c")
	noID.ID = ""
	batch = append(batch, noID)
	done, err := l.Deliver(f, batch)
	if err != nil || len(done) != 3 {
		t.Fatalf("Deliver: %d done, %v", len(done), err)
	}
	for _, d := range done {
		if d.Staged.Path() == "" || d.ID != "" && d.Unique != d.Staged.Unique() {
			t.Errorf("done %+v", d.Intent)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, m := openModel(t, path)
	if !m.done["a"] || !m.done["b"] || len(m.recs) != 5 || m.recs[0].Kind != KindVersion {
		t.Errorf("journal replays as %d records, done %v", len(m.recs), m.done)
	}
	if m.recs[1].Intent.Unique != batch[0].Staged.Unique() || strings.Join(m.recs[1].Intent.Fields, "") != "f-a" ||
		strings.Join(m.recs[3].Intent.Done, "") != "d-a" {
		t.Errorf("records %+v", m.recs)
	}
	if got, tmp := files(t, f); got["a"] != 1 || got["b"] != 1 || got["c"] != 1 || tmp != 0 {
		t.Errorf("Maildir holds %v, %d in tmp/", got, tmp)
	}
}

// DeliverNow: the intent is durable before the delivery runs; the done
// record follows a successful one only.
func TestDeliverNow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	mem := &memJournal{}
	l := newLedger(mem, path, newModel().options())
	mda := &maildir.MDA{Command: "cat >/dev/null"}
	st, err := l.DeliverNow(Intent{ID: "a", Done: []string{"1"}}, func() (*maildir.Staged, error) {
		if len(mem.synced) != 1 || string(mem.synced[0]) != "P a -" {
			t.Errorf("before the delivery the journal holds %q synced", mem.synced)
		}
		return mda.Stage(context.Background(), strings.NewReader(message("a")), maildir.StageOptions{})
	})
	if err != nil || st == nil || !st.Published() {
		t.Fatalf("DeliverNow: %v %v", st, err)
	}
	if len(mem.unsynced) != 1 || string(mem.unsynced[0]) != "D a 1" {
		t.Errorf("after it %q unsynced", mem.unsynced)
	}
	failed := errors.New("refused")
	if _, err := l.DeliverNow(Intent{ID: "b"}, func() (*maildir.Staged, error) { return nil, failed }); !errors.Is(err, failed) {
		t.Errorf("got %v", err)
	}
	if got := mem.all(); len(got) != 3 || string(got[2]) != "P b -" {
		t.Errorf("after a failed delivery the journal holds %q: the intent stays, no done", got)
	}
}

// Resolve: found is delivered (a synced D record), missing is fetched
// again, an MDA's intent or an unchecked one is fetched again, maybe
// twice. Of two intents of one id, one found is enough.
func TestResolve(t *testing.T) {
	f := inbox(t)
	here := stage(t, f, "here")
	if err := f.Publish(here.Staged); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "j")
	writeJournal(t, path, recs(
		"P gone 1.M1P1Q1R1.gone,S=3 f",
		"P here "+maildir.EncodeField(here.Staged.Unique())+" f",
		"P twice 1.M1P1Q1R1.gone,S=4 f",
		"P twice "+maildir.EncodeField(here.Staged.Unique())+" f",
		"P mda - f",
		"P both 1.M1.gone f",
		"P both -00ff f",
		"P ok 1.M1.x f",
		"D ok d",
	)...)
	l, m := openModel(t, path)
	res, err := l.Resolve(m.doubt(), find(f))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Delivered); !slices.Equal(got, []string{"here", "twice"}) {
		t.Errorf("delivered %v", got)
	}
	if got := ids(res.Again); !slices.Equal(got, []string{"gone"}) {
		t.Errorf("again %v", got)
	}
	if got := ids(res.Unsure); !slices.Equal(got, []string{"both", "mda"}) {
		t.Errorf("unsure %v", got)
	}
	for _, in := range res.Unsure {
		if !IsMDA(in.Unique) {
			t.Errorf("unsure %+v: the MDA's intent should be the one reported", in)
		}
	}
	l.Close()
	_, m2 := openModel(t, path)
	if !m2.done["here"] || !m2.done["twice"] || m2.done["gone"] {
		t.Errorf("after Resolve, done %v", m2.done)
	}
	// Without a lookup (mail goes to an MDA now) nothing can be checked.
	l3, m3 := openModel(t, path)
	defer l3.Close()
	res, err = l3.Resolve(m3.doubt(), nil)
	if err != nil || len(res.Delivered)+len(res.Again) != 0 || len(res.Unsure) != 3 {
		t.Errorf("without a lookup: %+v %v", res, err)
	}
	// A dry ledger looks, and writes nothing.
	before, _ := os.ReadFile(path)
	md := newModel()
	dry, err := OpenDry(path, md.options())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := dry.Resolve(append(md.doubt(), Intent{ID: "here2", Unique: here.Staged.Unique()}), find(f)); err != nil || len(res.Delivered) != 1 {
		t.Errorf("dry: %+v %v", res, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a dry Resolve wrote")
	}
	// A lookup that fails fails Resolve.
	if _, err := l3.Resolve([]Intent{{ID: "x", Unique: "u"}}, func(string) (bool, error) { return false, errors.New("EIO") }); err == nil {
		t.Error("a failed lookup was ignored")
	}
}
