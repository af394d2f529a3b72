package sync

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailfetch/mailfetch/maildir"
)

// localIndex is a local folder's messages by unique name. Mail readers
// rename files (new/ to cur/, flags in the info) and some rewrite the
// Maildir++ fields after the first ',' (",S=", ",W="): a message is found
// by the core of its unique name, the part before the first ','. Our
// unique names escape ',' in the host part, so the core identifies them.
type localIndex struct {
	byCore map[string]maildir.Entry
	all    []maildir.Entry
}

// uniqueCore is the part of a unique name that identifies the message.
func uniqueCore(unique string) string {
	core, _, _ := strings.Cut(unique, ",")
	return core
}

func newLocalIndex(entries []maildir.Entry) *localIndex {
	ix := &localIndex{byCore: make(map[string]maildir.Entry, len(entries)), all: entries}
	for _, e := range entries {
		core := uniqueCore(e.Unique)
		if _, dup := ix.byCore[core]; !dup {
			// Two files with one unique name (a copy made by hand): the
			// first is tracked, the other left alone.
			ix.byCore[core] = e
		}
	}
	return ix
}

// find returns the file of a message delivered as unique.
func (ix *localIndex) find(unique string) (maildir.Entry, bool) {
	if ix == nil {
		return maildir.Entry{}, false
	}
	e, ok := ix.byCore[uniqueCore(unique)]
	return e, ok
}

// scanReadOnly lists the messages of a Maildir directory without creating
// or changing anything (a dry run must not even create a folder): the same
// result as Folder.Scan, and nothing for a directory that does not exist.
func scanReadOnly(dir string) ([]maildir.Entry, error) {
	var out []maildir.Entry
	for _, sub := range []string{"new", "cur"} {
		d := filepath.Join(dir, sub)
		names, err := readNames(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", d, err)
		}
		for _, name := range names {
			n, err := maildir.ParseName(name)
			if err != nil {
				continue
			}
			out = append(out, maildir.Entry{Unique: n.Unique, Path: filepath.Join(d, name), Flags: n.Flags, New: sub == "new"})
		}
	}
	return out, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// maxHeaderRead bounds how much of a message is read for its header.
const maxHeaderRead = 64 << 10

// fileMessageID returns the Message-ID of a local message file ("" when it
// has none), normalized as maildir.NormalizeMessageID does.
func fileMessageID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hk, err := maildir.ReadHeaderKey(io.LimitReader(f, maxHeaderRead))
	return hk.MessageID, err
}

// headerMessageID reads a header and returns its Message-ID, normalized as
// maildir.NormalizeMessageID does; "" when it has none.
func headerMessageID(r io.Reader) string {
	hk, _ := maildir.ReadHeaderKey(r)
	return hk.MessageID
}

// fileMatchKey reads a whole local file for its Message-ID and its size as
// the server counts it (RFC822.SIZE, CRLF line ends).
func fileMatchKey(path string) (maildir.MatchKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return maildir.MatchKey{}, err
	}
	defer f.Close()
	return maildir.ReadMatchKey(f)
}
