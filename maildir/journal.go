package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Journal is an append-only file of records, one a line:
//
//	<crc32c of payload, 8 lower-case hex digits> <payload>\n
//
// A crash can tear only the last record; OpenJournal ignores it and cuts
// it off, so the next append does not follow garbage. It is safe for
// concurrent use.
type Journal struct {
	path string

	mu     sync.Mutex
	f      *os.File // O_APPEND
	size   int64    // length of the valid records: where a failed append is cut back to
	broken error    // a failed append that could not be cut back: nothing may follow it
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptError is in the error of OpenJournal and ReadJournal for a
// journal damaged before its last record: not what a crash leaves, so not
// something to read past. Line counts from 1.
type CorruptError struct{ Line int }

func (e *CorruptError) Error() string {
	return fmt.Sprintf("line %d: corrupt record (bad checksum or format) before the end of the file", e.Line)
}

// OpenJournal opens the journal at path, creating it (0600) when missing,
// and returns its records. A torn or corrupt last record, the mark of a
// crash during an append, is ignored and truncated away. Damage before the
// last record is an error naming the file and line: that is not what a
// crash leaves, and reading past it could replay wrong state.
func OpenJournal(path string) (*Journal, [][]byte, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, localErr(fmt.Errorf("maildir: open journal %s: %w", path, unwrapPath(err)))
	}
	if created {
		// A journal that vanishes in a crash would forget its records.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, nil, localErr(err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, localErr(fmt.Errorf("maildir: read journal %s: %w", path, unwrapPath(err)))
	}
	recs, valid, err := parseJournal(data)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("maildir: journal %s: %w", path, err)
	}
	if valid < len(data) {
		err := f.Truncate(int64(valid))
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, localErr(fmt.Errorf("maildir: journal %s: cut off torn last record: %w", path, unwrapPath(err)))
		}
	}
	return &Journal{path: path, f: f, size: int64(valid)}, recs, nil
}

// parseJournal returns the records of data and the length of the part that
// holds them; a torn or corrupt last line lies beyond it.
func parseJournal(data []byte) (recs [][]byte, valid int, err error) {
	for off, line := 0, 1; off < len(data); line++ {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			return recs, off, nil // torn: the crash came before its newline
		}
		end := off + nl
		payload, ok := parseRecord(data[off:end])
		if !ok {
			if end+1 == len(data) {
				return recs, off, nil // the last record, half written
			}
			return nil, 0, &CorruptError{Line: line}
		}
		recs = append(recs, payload)
		off = end + 1
	}
	return recs, len(data), nil
}

func parseRecord(line []byte) ([]byte, bool) {
	if len(line) < 9 || line[8] != ' ' {
		return nil, false
	}
	sum, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return nil, false
	}
	payload := line[9:len(line):len(line)] // full slice: an append by the caller must not run into the next record
	return payload, crc32.Checksum(payload, castagnoli) == uint32(sum)
}

// appendRecords encodes recs after b.
func appendRecords(b []byte, recs [][]byte) ([]byte, error) {
	for i, r := range recs {
		if bytes.IndexByte(r, '\n') >= 0 {
			return nil, fmt.Errorf("maildir: journal record %d contains a newline", i)
		}
		var sum [8]byte
		hexSum := strconv.AppendUint(sum[:0], uint64(crc32.Checksum(r, castagnoli)), 16)
		for range 8 - len(hexSum) {
			b = append(b, '0')
		}
		b = append(b, hexSum...)
		b = append(b, ' ')
		b = append(b, r...)
		b = append(b, '\n')
	}
	return b, nil
}

// Append adds records in one write. It does not fsync: call Sync when
// they must be durable. A record must not contain '\n'; then nothing is
// written. A failed write is cut back, so the journal stays valid.
func (j *Journal) Append(recs ...[]byte) error {
	size := 0
	for _, r := range recs {
		size += len(r) + 10
	}
	buf, err := appendRecords(make([]byte, 0, size), recs)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if _, err := j.f.Write(buf); err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = fmt.Errorf("maildir: journal %s: a failed append could not be cut back: %w", j.path, unwrapPath(terr))
		}
		return localErr(fmt.Errorf("maildir: append to journal %s: %w", j.path, unwrapPath(err)))
	}
	j.size += int64(len(buf))
	return nil
}

// Sync makes the appended records durable.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return localErr(fmt.Errorf("maildir: fsync journal %s: %w", j.path, unwrapPath(err)))
	}
	return nil
}

// Rewrite replaces the journal's content with recs (compaction), atomically
// (see WriteFileAtomic): after a crash the journal holds either the old
// records or recs. Appends go on after recs.
func (j *Journal) Rewrite(recs [][]byte) error {
	size := 0
	for _, r := range recs {
		size += len(r) + 10
	}
	data, err := appendRecords(make([]byte, 0, size), recs)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return j.usable()
	}
	if err := WriteFileAtomic(j.path, data, 0o600); err != nil {
		return err
	}
	// The old descriptor points at the replaced file.
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		j.broken = localErr(fmt.Errorf("maildir: reopen journal %s after rewrite: %w", j.path, unwrapPath(err)))
		return j.broken
	}
	j.f.Close()
	j.f, j.size, j.broken = f, int64(len(data)), nil
	return nil
}

// Close closes the journal. It does not fsync.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return localErr(fmt.Errorf("maildir: close journal %s: %w", j.path, unwrapPath(err)))
	}
	return nil
}

// usable is nil when the journal can be written; j.mu is held.
func (j *Journal) usable() error {
	if j.f == nil {
		return fmt.Errorf("maildir: journal %s is closed", j.path)
	}
	return j.broken
}

// ReadJournal returns the records of the journal at path without changing
// anything on disk (no file is created, no torn record cut off): for dry
// runs and inspections. It reads exactly as OpenJournal does: a torn or
// corrupt last record is ignored, damage before it is an error. A missing
// file is an error matching fs.ErrNotExist.
func ReadJournal(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("maildir: read journal %s: %w", path, unwrapPath(err))
	}
	recs, _, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("maildir: journal %s: %w", path, err)
	}
	return recs, nil
}
