package ledger

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/maildir"
)

// journal is what a Ledger needs of maildir.Journal; fault tests give it
// one that fails or crashes where they want.
type journal interface {
	Append(recs ...[]byte) error
	Sync() error
	Rewrite(recs [][]byte) error
	Close() error
}

// Options say how an engine's ledger is read.
type Options struct {
	// Name is what messages call the file: "pop3 state", "imap state of
	// INBOX". Default "state".
	Name string
	// Version is the engine's state version: the newest it reads, and the
	// one Rewrite writes. A V record above it refuses the journal.
	Version int
	// Apply replays one record onto the engine's state, in the journal's
	// order: every record, the protocol's kinds (V, P, D) included, each
	// checked first. An error refuses the journal as damaged.
	Apply func(Record) error
	// Advice ends the error of a damaged journal: what to do. Default
	// DefaultAdvice.
	Advice string
}

// DefaultAdvice is what the error of a damaged journal tells the user to do.
const DefaultAdvice = "move it away and run again: the next run re-matches what the Maildir holds"

// Ledger is an engine's state journal under the intent protocol (see the
// package comment). It is safe for concurrent use.
type Ledger struct {
	j      journal
	path   string
	name   string
	ver    int
	advice string
	dry    bool
}

// Open opens the journal at path, creating it when missing, cuts off a
// torn last record, and replays every record through opt.Apply. A journal
// without records gets "V <opt.Version>" first (synced with the first
// records that are), so that every journal a ledger writes names its
// version in its first record. A journal
// that is damaged (a corrupt record before the last, a record that does
// not parse, one Apply refuses) or of a newer version fails the open with
// failure.LocalIO and a message that names the file and what to do.
func Open(path string, opt Options) (*Ledger, error) {
	l := newLedger(nil, path, opt)
	j, recs, err := maildir.OpenJournal(path)
	if err != nil {
		return nil, l.readError(err)
	}
	if err := l.replay(recs, opt); err != nil {
		j.Close()
		return nil, err
	}
	l.j = j
	if len(recs) == 0 {
		if err := l.write(false, VersionRecord(l.ver)); err != nil {
			j.Close()
			return nil, err
		}
	}
	return l, nil
}

// OpenDry reads the journal at path as Open does, for a dry run: it
// changes nothing on disk (a missing file is an empty journal, a torn
// last record is ignored and left). Its Append, Sync, Rewrite and the done
// records of Resolve are dropped; Deliver and DeliverNow fail.
func OpenDry(path string, opt Options) (*Ledger, error) {
	l := newLedger(dropJournal{}, path, opt)
	l.dry = true
	recs, err := maildir.ReadJournal(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, l.readError(err)
	}
	if err := l.replay(recs, opt); err != nil {
		return nil, err
	}
	return l, nil
}

func newLedger(j journal, path string, opt Options) *Ledger {
	l := &Ledger{j: j, path: path, name: opt.Name, ver: opt.Version, advice: opt.Advice}
	if l.name == "" {
		l.name = "state"
	}
	if l.advice == "" {
		l.advice = DefaultAdvice
	}
	return l
}

// Path is the journal's file.
func (l *Ledger) Path() string { return l.path }

// Dry reports whether the ledger was opened by OpenDry.
func (l *Ledger) Dry() bool { return l.dry }

// replay checks every record and hands it to opt.Apply.
func (l *Ledger) replay(recs [][]byte, opt Options) error {
	for i, raw := range recs {
		r, err := Parse(raw)
		if err != nil {
			return l.damaged(i+1, err)
		}
		r.N = i + 1
		if r.Kind == KindVersion && r.Version > l.ver {
			return failure.New(failure.LocalIO, fmt.Sprintf(
				"%s %s was written by a newer mailfetch (version %d; this one reads 1 to %d): refusing to use it",
				l.name, l.path, r.Version, l.ver))
		}
		if opt.Apply == nil {
			continue
		}
		if err := opt.Apply(r); err != nil {
			return l.damaged(r.N, err)
		}
	}
	return nil
}

// damaged is the one error of a journal whose record n cannot be read.
func (l *Ledger) damaged(n int, err error) error {
	return failure.New(failure.LocalIO, fmt.Sprintf("%s %s is damaged (record %d: %v): %s", l.name, l.path, n, err, l.advice))
}

// readError classifies a failed read of the journal: damage before the
// last record is refused like a record that does not parse.
func (l *Ledger) readError(err error) error {
	var ce *maildir.CorruptError
	if errors.As(err, &ce) {
		return l.damaged(ce.Line, errors.New("bad checksum or format before the last record, not what a crash leaves"))
	}
	return failure.Wrap(failure.LocalIO, fmt.Errorf("%s: %w", l.name, err))
}

// Append journals engine records (any kind but V, P and D, which only
// Rewrite and the delivery paths write). It does not fsync.
func (l *Ledger) Append(recs ...[]byte) error {
	for _, rec := range recs {
		r, err := Parse(rec)
		if err != nil {
			return fmt.Errorf("ledger: append: %w", err)
		}
		switch r.Kind {
		case KindVersion, KindIntent, KindDone:
			return fmt.Errorf("ledger: append: record kind %c is the intent protocol's", r.Kind)
		}
	}
	return l.write(false, recs...)
}

// Sync makes every appended record durable: done records included. An
// engine calls it before any acknowledgement to the server that depends
// on them (POP3 DELE, an IMAP expunge of a delivered message), and at the
// end of a run.
func (l *Ledger) Sync() error { return l.write(true) }

// Rewrite compacts the journal to "V <Options.Version>" and recs
// (atomically: after a crash the journal holds the old records or the
// new ones). recs may hold any records but V.
func (l *Ledger) Rewrite(recs [][]byte) error {
	all := make([][]byte, 0, len(recs)+1)
	all = append(all, VersionRecord(l.ver))
	for _, rec := range recs {
		r, err := Parse(rec)
		if err != nil {
			return fmt.Errorf("ledger: rewrite: %w", err)
		}
		if r.Kind == KindVersion {
			return errors.New("ledger: rewrite: the version record is the ledger's")
		}
		all = append(all, rec)
	}
	if err := l.j.Rewrite(all); err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("%s: %w", l.name, err))
	}
	return nil
}

// Close closes the journal. It does not fsync.
func (l *Ledger) Close() error {
	if err := l.j.Close(); err != nil {
		return failure.Wrap(failure.LocalIO, fmt.Errorf("%s: %w", l.name, err))
	}
	return nil
}

// write appends recs and, with sync, fsyncs.
func (l *Ledger) write(sync bool, recs ...[]byte) error {
	if len(recs) > 0 {
		if err := l.j.Append(recs...); err != nil {
			return failure.Wrap(failure.LocalIO, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	if sync {
		if err := l.j.Sync(); err != nil {
			return failure.Wrap(failure.LocalIO, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	return nil
}

// dropJournal is a dry ledger's journal: it writes nothing.
type dropJournal struct{}

func (dropJournal) Append(...[]byte) error { return nil }
func (dropJournal) Sync() error            { return nil }
func (dropJournal) Rewrite([][]byte) error { return nil }
func (dropJournal) Close() error           { return nil }
