package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/maildir"
)

// model is a small engine: it replays a ledger the way the engines do
// (an id is done after its D record; intents without one are in doubt)
// and keeps its own "X <id>" records (forget the id).
type model struct {
	recs    []Record
	done    map[string]bool
	pending map[string][]Intent
	order   []string // ids in the order their intents came
}

func newModel() *model {
	return &model{done: map[string]bool{}, pending: map[string][]Intent{}}
}

func (m *model) apply(r Record) error {
	m.recs = append(m.recs, r)
	switch r.Kind {
	case KindIntent:
		if !m.done[r.Intent.ID] {
			if m.pending[r.Intent.ID] == nil {
				m.order = append(m.order, r.Intent.ID)
			}
			m.pending[r.Intent.ID] = append(m.pending[r.Intent.ID], r.Intent)
		}
	case KindDone:
		m.done[r.Intent.ID] = true
		delete(m.pending, r.Intent.ID)
	case 'X':
		if len(r.Fields) != 1 {
			return fmt.Errorf("X: %d fields", len(r.Fields))
		}
		delete(m.done, r.Fields[0])
		delete(m.pending, r.Fields[0])
	case KindVersion:
	default:
		return fmt.Errorf("unknown record kind %c", r.Kind)
	}
	return nil
}

// doubt is the intents without a done record, in the order they came.
func (m *model) doubt() []Intent {
	var out []Intent
	for _, id := range m.order {
		out = append(out, m.pending[id]...)
	}
	return out
}

func (m *model) options() Options {
	return Options{Name: "test state", Version: 2, Apply: m.apply}
}

// openModel opens the ledger at path with a fresh model.
func openModel(t testing.TB, path string) (*Ledger, *model) {
	t.Helper()
	m := newModel()
	l, err := Open(path, m.options())
	if err != nil {
		t.Fatal(err)
	}
	return l, m
}

// writeJournal writes recs as a maildir journal at path.
func writeJournal(t testing.TB, path string, recs ...[]byte) {
	t.Helper()
	j, _, err := maildir.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(recs...); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Close()
}

func recs(lines ...string) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = []byte(l)
	}
	return out
}

// inbox opens a Maildir in a new directory.
func inbox(t testing.TB) *maildir.Folder {
	t.Helper()
	s, err := maildir.Open(filepath.Join(t.TempDir(), "Maildir"), maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Folder(nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// message is the content of test message id.
func message(id string) string {
	return fmt.Sprintf("Message-ID: <%s@test>\nSubject: %s\n\nbody of %s\n", id, id, id)
}

// stage stages message id into f as a Delivery with a done field.
func stage(t testing.TB, f maildir.Target, id string) Delivery {
	t.Helper()
	st, err := f.Stage(context.Background(), strings.NewReader(message(id)), maildir.StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return Delivery{Intent: Intent{ID: id, Fields: []string{"f-" + maildir.EncodeField(id)}, Done: []string{"d-" + maildir.EncodeField(id)}}, Staged: st}
}

// files counts, per message id, the files in f's new/ and cur/ holding
// its content; tmp reports the files in tmp/.
func files(t testing.TB, f *maildir.Folder) (byID map[string]int, tmp int) {
	t.Helper()
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	byID = map[string]int{}
	for _, e := range entries {
		b, err := os.ReadFile(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "Message-ID: <")
		byID[strings.TrimSuffix(id, "@test>")]++
	}
	ents, err := os.ReadDir(filepath.Join(f.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return byID, len(ents)
}

// find is Resolve's lookup in f.
func find(f *maildir.Folder) func(string) (bool, error) {
	return func(u string) (bool, error) {
		_, ok, err := f.Find(u)
		return ok, err
	}
}

func ids(ins []Intent) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	slices.Sort(out)
	return out
}
