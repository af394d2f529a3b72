package sync

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-message/textproto"

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

// maxHeaderRead bounds how much of a local file is read for its header.
const maxHeaderRead = 64 << 10

// fileMessageID returns the Message-ID of a local message file ("" when it
// has none), as found in its header.
func fileMessageID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return headerMessageID(io.LimitReader(f, maxHeaderRead)), nil
}

// headerMessageID reads a header and returns its Message-ID, normalized:
// spaces trimmed, angle brackets kept as they are. A header that does not
// parse has no Message-ID.
func headerMessageID(r io.Reader) string {
	h, err := textproto.ReadHeader(bufio.NewReader(r))
	if err != nil && h.Len() == 0 {
		return ""
	}
	return normalizeMessageID(h.Get("Message-Id"))
}

func normalizeMessageID(s string) string {
	s = strings.TrimSpace(s)
	// Folded over several lines, an id may carry inner white space.
	return strings.Join(strings.Fields(s), "")
}

// crlfSize is the size of a local (LF) file as the server counts it
// (RFC822.SIZE, CRLF line ends): every LF not preceded by CR counts twice.
func crlfSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 64<<10)
	prevCR := false
	for {
		m, err := f.Read(buf)
		chunk := buf[:m]
		n += int64(m)
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				prevCR = chunk[len(chunk)-1] == '\r'
				break
			}
			if (i == 0 && !prevCR) || (i > 0 && chunk[i-1] != '\r') {
				n++
			}
			prevCR = false
			chunk = chunk[i+1:]
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
