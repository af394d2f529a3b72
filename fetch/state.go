package fetch

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/mailfetch/mailfetch/internal/ledger"
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
const mdaUnique = ledger.MDA

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

// format renders r as a journal record (no newline), as the ledger writes
// it. It panics on a record no run can make (an empty UIDL or identity).
func (r record) format() []byte {
	var b []byte
	var err error
	switch r.Kind {
	case recVersion:
		b = ledger.VersionRecord(r.Version)
	case recBound:
		b, err = ledger.Format(byte(recBound), maildir.EncodeField(r.ID))
	case recPending:
		b, err = ledger.IntentRecord(r.intent())
	case recDone:
		b, err = ledger.DoneRecord(r.intent())
	case recGone:
		b, err = ledger.Format(byte(recGone), maildir.EncodeField(r.UIDL))
	default:
		err = fmt.Errorf("unknown record kind %q", r.Kind)
	}
	if err != nil {
		panic(fmt.Sprintf("fetch: %v", err))
	}
	return b
}

// intent is a pending or done record as the ledger writes it.
func (r record) intent() ledger.Intent { return pop3Intent(r.UIDL, r.Unique, r.Time, r.Time) }

// pop3Intent is the delivery of uidl under unique: the time it was
// fetched in its P record, the time it was first fetched in its D record.
func pop3Intent(uidl, unique string, fetched, first time.Time) ledger.Intent {
	return ledger.Intent{ID: uidl, Unique: unique,
		Fields: []string{strconv.FormatInt(fetched.Unix(), 10)},
		Done:   []string{strconv.FormatInt(first.Unix(), 10)}}
}

// parseRecord parses one journal record: the ledger's reading, then the
// POP3 engine's.
func parseRecord(line []byte) (record, error) {
	lr, err := ledger.Parse(line)
	if err != nil {
		return record{}, err
	}
	return fromLedger(lr)
}

// fromLedger checks a record the ledger read against the POP3 state's
// kinds and fields.
func fromLedger(lr ledger.Record) (record, error) {
	r := record{Kind: recordKind(lr.Kind)}
	var fields []string
	switch r.Kind {
	case recVersion:
		r.Version = lr.Version
		return r, nil
	case recPending:
		r.UIDL, r.Unique, fields = lr.Intent.ID, lr.Intent.Unique, lr.Intent.Fields
	case recDone:
		r.UIDL, fields = lr.Intent.ID, lr.Intent.Done
	case recBound, recGone:
		if len(lr.Fields) != 1 {
			return record{}, fmt.Errorf("record %c: %d fields, want 1", r.Kind, len(lr.Fields))
		}
		v, err := maildir.DecodeField(lr.Fields[0])
		if err != nil {
			return record{}, fmt.Errorf("record %c: %w", r.Kind, err)
		}
		if v == "" {
			return record{}, fmt.Errorf("record %c: empty field", r.Kind)
		}
		if r.Kind == recBound {
			r.ID = v
		} else {
			r.UIDL = v
		}
		return r, nil
	default:
		return record{}, fmt.Errorf("unknown record kind %c", r.Kind)
	}
	if len(fields) != 1 {
		return record{}, fmt.Errorf("record %c: %d fields after the UIDL, want a time", r.Kind, len(fields)+1)
	}
	sec, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != fields[0] {
		return record{}, fmt.Errorf("record %c: bad time %q", r.Kind, truncate([]byte(fields[0]), 20))
	}
	r.Time = time.Unix(sec, 0)
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
}

func newState() *uidlState { return &uidlState{entries: map[string]*uidlEntry{}} }

// applyLedger replays one record the ledger read (ledger.Options.Apply):
// a record the POP3 state does not know refuses the journal.
func (st *uidlState) applyLedger(lr ledger.Record) error {
	r, err := fromLedger(lr)
	if err != nil {
		return err
	}
	st.apply(r)
	return nil
}

// apply updates the state with one record.
func (st *uidlState) apply(r record) {
	switch r.Kind {
	case recVersion:
		// The ledger refused a version above stateVersion.
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
// about the UIDLs in keep: the B record, and a done record with its
// first-fetched time each (the ledger's Rewrite puts the version first).
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
	recs := make([][]byte, 0, len(uidls)+1)
	if st.bound != "" {
		recs = append(recs, record{Kind: recBound, ID: st.bound}.format())
	}
	for _, u := range uidls {
		recs = append(recs, record{Kind: recDone, UIDL: u, Time: st.entries[u].first}.format())
	}
	return recs
}

// doubt lists the deliveries in doubt: the pending records of the UIDLs
// without a done record, by UIDL, for ledger.Resolve.
func (st *uidlState) doubt() []ledger.Intent {
	uidls := make([]string, 0)
	for u, e := range st.entries {
		if !e.done && len(e.pending) > 0 {
			uidls = append(uidls, u)
		}
	}
	sort.Strings(uidls)
	var out []ledger.Intent
	for _, u := range uidls {
		e := st.entries[u]
		for _, unique := range e.pending {
			out = append(out, record{Kind: recPending, UIDL: u, Unique: unique, Time: e.first}.intent())
		}
	}
	return out
}

// ledgerOptions are the POP3 state's: its version, its records.
func (st *uidlState) ledgerOptions() ledger.Options {
	return ledger.Options{
		Name: "pop3 state", Version: stateVersion, Apply: st.applyLedger,
		Advice: "move it away and run again: the next run re-matches what the Maildir holds with --keep, " +
			"and without may fetch again a message whose deletion did not complete",
	}
}

// openState opens the state journal in dir (read only, for a dry run)
// and replays it into a new state.
func openState(dir string, dry bool) (*ledger.Ledger, *uidlState, error) {
	st := newState()
	open := ledger.Open
	if dry {
		open = ledger.OpenDry
	}
	l, err := open(filepath.Join(dir, stateFile), st.ledgerOptions())
	if err != nil {
		return nil, nil, err
	}
	return l, st, nil
}
