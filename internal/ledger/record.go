package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailfetch/mailfetch/maildir"
)

// The record kinds of the intent protocol. Every other capital letter is
// an engine's.
const (
	KindVersion byte = 'V' // V <version>
	KindIntent  byte = 'P' // P <id> <unique> [<field>...]
	KindDone    byte = 'D' // D <id> [<field>...]
)

// MDA is the unique name of an intent to deliver to an MDA: a command
// leaves no file that a later run could look for. An engine may write
// more after it ("-" and a digest): IsMDA tells them all.
const MDA = "-"

// IsMDA reports whether unique stands for a delivery to an MDA rather
// than a Maildir file. Maildir unique names never start with '-'.
func IsMDA(unique string) bool { return strings.HasPrefix(unique, MDA) }

// Intent is one message on its way into the Maildir, as a P record holds
// it: "the delivery of server message ID under the Maildir unique name
// Unique may have completed".
type Intent struct {
	// ID is the message's id on the server: a POP3 UIDL, an IMAP UID in
	// decimal. It is escaped with maildir.EncodeField in the record.
	ID string
	// Unique is the Maildir unique name the message is delivered under
	// (maildir.Staged.Unique), or MDA. Escaped like ID.
	Unique string
	// Fields are the engine's fields after the unique name in the P
	// record; Done its fields after the id in the D record. Each is one
	// journal field as written: not empty, bytes '!' to '~' only (escape
	// free text with maildir.EncodeField).
	Fields []string
	Done   []string
}

// Record is one record of a ledger, as Options.Apply receives it.
type Record struct {
	// Kind is the first byte: KindVersion, KindIntent, KindDone or an
	// engine's capital letter.
	Kind byte
	// N is the record's number in the journal, from 1.
	N int
	// Version is a V record's number.
	Version int
	// Intent is a P record's ID, Unique and Fields, or a D record's ID
	// and Done, decoded.
	Intent Intent
	// Fields are an engine record's fields after the kind, as written.
	Fields []string
}

// Parse reads one record's payload. It accepts exactly what Bytes
// writes, so that every record has one spelling: a capital letter, then
// fields each preceded by one space, each of bytes '!' to '~'; the ids
// and unique names of P and D records in maildir.EncodeField's form.
func Parse(line []byte) (Record, error) {
	if len(line) == 0 {
		return Record{}, errors.New("empty record")
	}
	r := Record{Kind: line[0]}
	if r.Kind < 'A' || r.Kind > 'Z' {
		return Record{}, fmt.Errorf("record kind %q is not a capital letter", truncate(line, 1))
	}
	var fields []string
	if len(line) > 1 {
		if line[1] != ' ' {
			return Record{}, fmt.Errorf("record %q: no space after the kind", truncate(line, 40))
		}
		fields = strings.Split(string(line[2:]), " ")
		for _, f := range fields {
			if err := checkField(f); err != nil {
				return Record{}, fmt.Errorf("record %c: %w", r.Kind, err)
			}
		}
	}
	var err error
	switch r.Kind {
	case KindVersion:
		if len(fields) != 1 {
			return Record{}, fmt.Errorf("record V: %d fields, want 1", len(fields))
		}
		if r.Version, err = parseVersion(fields[0]); err != nil {
			return Record{}, err
		}
	case KindIntent:
		if len(fields) < 2 {
			return Record{}, fmt.Errorf("record P: %d fields, want an id and a unique name at least", len(fields))
		}
		if r.Intent.ID, err = decodeID(fields[0]); err != nil {
			return Record{}, fmt.Errorf("record P: %w", err)
		}
		if r.Intent.Unique, err = decodeUnique(fields[1]); err != nil {
			return Record{}, fmt.Errorf("record P: %w", err)
		}
		r.Intent.Fields = fields[2:]
	case KindDone:
		if len(fields) < 1 {
			return Record{}, errors.New("record D: no id")
		}
		if r.Intent.ID, err = decodeID(fields[0]); err != nil {
			return Record{}, fmt.Errorf("record D: %w", err)
		}
		r.Intent.Done = fields[1:]
	default:
		r.Fields = fields
	}
	return r, nil
}

// Bytes is the record's payload as a journal holds it (without N).
func (r Record) Bytes() ([]byte, error) {
	switch r.Kind {
	case KindVersion:
		if r.Version < 1 {
			return nil, fmt.Errorf("ledger: version %d", r.Version)
		}
		return VersionRecord(r.Version), nil
	case KindIntent:
		return IntentRecord(r.Intent)
	case KindDone:
		return DoneRecord(r.Intent)
	}
	return Format(r.Kind, r.Fields...)
}

// VersionRecord is "V <v>".
func VersionRecord(v int) []byte { return []byte("V " + strconv.Itoa(v)) }

// IntentRecord is the P record of in.
func IntentRecord(in Intent) ([]byte, error) {
	if err := checkIDs(in.ID, in.Unique); err != nil {
		return nil, err
	}
	return Format(KindIntent, append([]string{maildir.EncodeField(in.ID), maildir.EncodeField(in.Unique)}, in.Fields...)...)
}

// DoneRecord is the D record of in.
func DoneRecord(in Intent) ([]byte, error) {
	if in.ID == "" {
		return nil, errors.New("ledger: done record without an id")
	}
	return Format(KindDone, append([]string{maildir.EncodeField(in.ID)}, in.Done...)...)
}

// Format writes a record of kind with fields, each checked (see Intent).
func Format(kind byte, fields ...string) ([]byte, error) {
	if kind < 'A' || kind > 'Z' {
		return nil, fmt.Errorf("ledger: record kind %q is not a capital letter", kind)
	}
	n := 1
	for _, f := range fields {
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("ledger: record %c: %w", kind, err)
		}
		n += 1 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	for _, f := range fields {
		b = append(b, ' ')
		b = append(b, f...)
	}
	return b, nil
}

// checkField accepts one field as a record holds it.
func checkField(f string) error {
	if f == "" {
		return errors.New("empty field")
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("byte %#x in field %q", c, truncate([]byte(f), 40))
		}
	}
	return nil
}

func checkIDs(id, unique string) error {
	switch {
	case id == "":
		return errors.New("ledger: intent without an id")
	case unique == "" || strings.ContainsAny(unique, "/\x00"):
		return fmt.Errorf("ledger: intent %q: %q is not a unique name", truncate([]byte(id), 40), truncate([]byte(unique), 80))
	}
	return nil
}

func decodeID(f string) (string, error) {
	id, err := maildir.DecodeField(f)
	if err != nil {
		return "", fmt.Errorf("id %q: %w", truncate([]byte(f), 40), err)
	}
	if id == "" {
		return "", errors.New("empty id")
	}
	return id, nil
}

func decodeUnique(f string) (string, error) {
	u, err := maildir.DecodeField(f)
	if err != nil {
		return "", fmt.Errorf("unique name %q: %w", truncate([]byte(f), 80), err)
	}
	if u == "" || strings.ContainsAny(u, "/\x00") {
		return "", fmt.Errorf("%q is not a unique name", truncate([]byte(u), 80))
	}
	return u, nil
}

// parseVersion reads a version: a decimal from 1, without sign or
// leading zeros.
func parseVersion(f string) (int, error) {
	v, err := strconv.Atoi(f)
	if err != nil || v < 1 || strconv.Itoa(v) != f {
		return 0, fmt.Errorf("record V: bad version %q", truncate([]byte(f), 20))
	}
	return v, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
