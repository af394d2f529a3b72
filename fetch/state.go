package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailfetch/mailfetch/maildir"
)

// stateFile is the journal's name inside Options.StateDir.
const stateFile = "pop3.journal"

// stateVersion is the version record's number. A journal written by a later
// version is refused rather than misread: misreading a record could make a
// run delete a message it never delivered. Version 2 added the B record;
// a version-1 journal is read as it is and written back as version 2.
const stateVersion = 2

// mdaUnique stands for "no unique name" in a pending record: a delivery to
// an MDA leaves nothing in a Maildir that a later run could look for.
const mdaUnique = "-"

// recordKind is the first field of a state record.
type recordKind byte

const (
	recVersion recordKind = 'V' // V <version>
	recBound   recordKind = 'B' // B <Maildir folder identity>
	recPending recordKind = 'P' // P <uidl> <unique> <unix-seconds>
	recDone    recordKind = 'D' // D <uidl> <unix-seconds first fetched>
	recGone    recordKind = 'X' // X <uidl>
)

// record is one line of the state journal. See the package comment for what
// each kind means.
type record struct {
	Kind    recordKind
	UIDL    string
	Unique  string    // pending only
	Time    time.Time // pending: when fetched; done: when first fetched
	Version int       // version only
	ID      string    // bound only: the folder's identity (maildir.ReadID)
}

// format renders r as a journal record (no newline).
func (r record) format() []byte {
	switch r.Kind {
	case recVersion:
		return fmt.Appendf(nil, "V %d", r.Version)
	case recBound:
		return fmt.Appendf(nil, "B %s", maildir.EncodeField(r.ID))
	case recPending:
		return fmt.Appendf(nil, "P %s %s %d", maildir.EncodeField(r.UIDL), maildir.EncodeField(r.Unique), r.Time.Unix())
	case recDone:
		return fmt.Appendf(nil, "D %s %d", maildir.EncodeField(r.UIDL), r.Time.Unix())
	case recGone:
		return fmt.Appendf(nil, "X %s", maildir.EncodeField(r.UIDL))
	}
	panic(fmt.Sprintf("fetch: unknown record kind %q", r.Kind))
}

// parseRecord parses one journal record.
func parseRecord(line []byte) (record, error) {
	f := strings.Split(string(line), " ")
	bad := func(why string) (record, error) {
		return record{}, fmt.Errorf("state record %q: %s", truncate(line, 80), why)
	}
	if len(f[0]) != 1 {
		return bad("unknown kind")
	}
	want := map[recordKind]int{recVersion: 2, recBound: 2, recPending: 4, recDone: 3, recGone: 2}
	k := recordKind(f[0][0])
	n, ok := want[k]
	if !ok {
		return bad("unknown kind")
	}
	if len(f) != n {
		return bad(fmt.Sprintf("%d fields, want %d", len(f), n))
	}
	r := record{Kind: k}
	if k == recVersion {
		v, err := strconv.Atoi(f[1])
		if err != nil || v < 1 || strconv.Itoa(v) != f[1] {
			return bad("bad version")
		}
		r.Version = v
		return r, nil
	}
	var err error
	if k == recBound {
		if r.ID, err = maildir.DecodeField(f[1]); err != nil {
			return bad(err.Error())
		}
		if r.ID == "" {
			return bad("empty identity")
		}
		return r, nil
	}
	if r.UIDL, err = maildir.DecodeField(f[1]); err != nil {
		return bad(err.Error())
	}
	if r.UIDL == "" {
		return bad("empty UIDL")
	}
	if k == recPending {
		if r.Unique, err = maildir.DecodeField(f[2]); err != nil {
			return bad(err.Error())
		}
		if r.Unique == "" {
			return bad("empty unique name")
		}
	}
	if k == recPending || k == recDone {
		ts := f[n-1]
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || strconv.FormatInt(sec, 10) != ts {
			return bad("bad time")
		}
		r.Time = time.Unix(sec, 0)
	}
	return r, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// uidlEntry is what the state knows about one UIDL.
type uidlEntry struct {
	// done: the message is delivered for sure (a done record, or a
	// pending one whose file was found).
	done bool
	// pending lists the unique names of deliveries in doubt: pending
	// records without a done record. Only meaningful while !done.
	pending []string
	// first is when the message was first fetched (DeleteAfter counts
	// from it).
	first time.Time
}

// uidlState is the replayed state journal: UIDL → entry.
type uidlState struct {
	entries map[string]*uidlEntry
	// bound is the identity of the Maildir folder the entries describe,
	// "" when the journal names none (version 1, or a new state).
	bound string
	// newer is set when a version record above stateVersion was seen.
	newer int
	// bad counts records that could not be parsed and were ignored.
	bad int
	// firstBad is the first parse error, for the notice.
	firstBad error
}

func newState() *uidlState { return &uidlState{entries: map[string]*uidlEntry{}} }

// replay builds the state from journal records in order. A record that
// does not parse is skipped and counted: losing a done record costs at
// worst a duplicate, while refusing to run would leave the user with no
// mail at all.
func replay(recs [][]byte) *uidlState {
	st := newState()
	for _, line := range recs {
		r, err := parseRecord(line)
		if err != nil {
			st.bad++
			if st.firstBad == nil {
				st.firstBad = err
			}
			continue
		}
		st.apply(r)
	}
	return st
}

// apply updates the state with one record.
func (st *uidlState) apply(r record) {
	switch r.Kind {
	case recVersion:
		if r.Version > stateVersion && r.Version > st.newer {
			st.newer = r.Version
		}
	case recBound:
		// What was recorded under another identity describes another
		// Maildir. Runs rewrite the whole journal when they bind it, so
		// this only guards against a journal put together otherwise.
		if st.bound != "" && st.bound != r.ID {
			clear(st.entries)
		}
		st.bound = r.ID
	case recPending:
		e := st.entry(r.UIDL)
		if e.first.IsZero() {
			e.first = r.Time
		}
		if !e.done {
			e.pending = append(e.pending, r.Unique)
		}
	case recDone:
		e := st.entry(r.UIDL)
		e.done = true
		e.pending = nil
		if e.first.IsZero() || (!r.Time.IsZero() && r.Time.Before(e.first)) {
			e.first = r.Time
		}
	case recGone:
		delete(st.entries, r.UIDL)
	}
}

func (st *uidlState) entry(uidl string) *uidlEntry {
	e := st.entries[uidl]
	if e == nil {
		e = &uidlEntry{}
		st.entries[uidl] = e
	}
	return e
}

// isDone reports whether uidl is delivered for sure.
func (st *uidlState) isDone(uidl string) bool {
	e := st.entries[uidl]
	return e != nil && e.done
}

// firstFetched is when uidl was first fetched, zero if never.
func (st *uidlState) firstFetched(uidl string) time.Time {
	if e := st.entries[uidl]; e != nil {
		return e.first
	}
	return time.Time{}
}

// compacted returns the records of a journal that says only what matters
// about the UIDLs in keep: a done record with its first-fetched time each.
// Everything else (pending records, UIDLs no longer on the server, deleted
// messages) is dropped. Records are sorted so that the file is stable.
func (st *uidlState) compacted(keep func(uidl string) bool) [][]byte {
	uidls := make([]string, 0, len(st.entries))
	for u, e := range st.entries {
		if e.done && keep(u) {
			uidls = append(uidls, u)
		}
	}
	sort.Strings(uidls)
	recs := make([][]byte, 0, len(uidls)+2)
	recs = append(recs, record{Kind: recVersion, Version: stateVersion}.format())
	if st.bound != "" {
		recs = append(recs, record{Kind: recBound, ID: st.bound}.format())
	}
	for _, u := range uidls {
		recs = append(recs, record{Kind: recDone, UIDL: u, Time: st.entries[u].first}.format())
	}
	return recs
}

// readStateReadOnly replays the journal in dir without changing anything on
// disk, for a dry run: maildir.OpenJournal would create a missing file and
// cut off a torn last record. A missing dir or file is an empty state.
func readStateReadOnly(dir string) (*uidlState, error) {
	recs, err := maildir.ReadJournal(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, err
	}
	return replay(recs), nil
}
