package maildir

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Re-matching finds a server's messages among a folder's files when no
// state says which file holds which message: the state was lost, belongs
// to another Maildir, or the mail came from another tool. Both sides
// compute the same MatchKey from the message's bytes, so a message is
// taken as already here only when a file with its content is.

// HeaderKey is what a message's header says about its identity.
type HeaderKey struct {
	// MessageID is the Message-ID as NormalizeMessageID gives it; "" when
	// the header has none (or an empty one).
	MessageID string
	// Digest stands in for a missing Message-ID: the SHA-256 of the
	// header block, every line (CRLF or LF) ended by one LF, up to and
	// without the empty line that ends the header. Zero when MessageID
	// is set.
	Digest [sha256.Size]byte
}

// MatchKey identifies a message by its content, the same way on a server
// and in a Maildir: by its Message-ID and size, or, without a Message-ID,
// by a digest of its header and its size. It is comparable (a map key).
type MatchKey struct {
	HeaderKey
	// Size counts the message with CRLF line ends, as POP3 LIST and IMAP
	// RFC822.SIZE do: a local file (LF line ends) counts every LF not
	// preceded by CR twice.
	Size int64
}

// maxMessageID bounds the Message-ID kept from a header: a msg-id is at
// most a line (998 bytes). A longer one is cut there, the same way on both
// sides.
const maxMessageID = 998

// NormalizeMessageID returns the form of a Message-ID field's value that
// keys compare: every white-space byte (space, tab, CR, LF, VT, FF)
// removed, which undoes folding, and then one pair of enclosing angle
// brackets removed ("<a@b>" → "a@b"). Nothing else changes: case, and
// text around or after the brackets (a comment) stay as they are.
func NormalizeMessageID(s string) string {
	s = strings.Map(func(r rune) rune {
		if isBlankByte(r) {
			return -1
		}
		return r
	}, s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	return s
}

func isBlankByte(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
}

// KeyWriter computes a message's MatchKey from its bytes, written to it
// in chunks of any size: a whole message (a local file, a body as it
// streams from a server) or only its header (POP3 TOP n 0, IMAP
// BODY[HEADER]), with CRLF or LF line ends. Its memory is bounded
// whatever it is given: the header streams through the digest, and only
// the Message-ID's value (at most maxMessageID bytes) is kept. The zero
// value is ready to use.
type KeyWriter struct {
	size   int64 // CRLF size so far
	lastCR bool  // the last byte written was CR (for the size)

	digest     hash.Hash
	headerDone bool
	started    bool // a byte of the header was seen
	atStart    bool // at the start of a header line (set once started)
	heldCR     bool // a CR whose next byte decides whether it ends a line
	name       []byte
	inName     bool // reading a field name (up to ':')
	inID       bool // reading the Message-ID field's value
	haveID     bool // a Message-ID field was found (the first one counts)
	id         []byte
	// pend collects digest bytes: one Write per byte would cost an
	// allocation each.
	pend  [512]byte
	npend int
}

// hashByte adds c to the header digest.
func (w *KeyWriter) hashByte(c byte) {
	if w.npend == len(w.pend) {
		w.flushDigest()
	}
	w.pend[w.npend] = c
	w.npend++
}

func (w *KeyWriter) flushDigest() {
	if w.digest == nil {
		w.digest = sha256.New()
	}
	w.digest.Write(w.pend[:w.npend])
	w.npend = 0
}

// Write takes the next bytes of the message. It never fails.
func (w *KeyWriter) Write(p []byte) (int, error) {
	w.count(p)
	if !w.headerDone {
		w.header(p)
	}
	return len(p), nil
}

// count adds p to the CRLF size.
func (w *KeyWriter) count(p []byte) {
	w.size += int64(len(p))
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if (i == 0 && !w.lastCR) || (i > 0 && p[i-1] != '\r') {
			w.size++
		}
		i++
	}
	if len(p) > 0 {
		w.lastCR = p[len(p)-1] == '\r'
	}
}

// header feeds p to the header state machine, byte by byte: headers are
// small, and this is the one place that decides what a line is.
func (w *KeyWriter) header(p []byte) {
	if !w.started && len(p) > 0 {
		w.started, w.atStart = true, true
	}
	for i := 0; i < len(p) && !w.headerDone; i++ {
		c := p[i]
		if w.heldCR {
			w.heldCR = false
			if c == '\n' {
				w.endLine()
				continue
			}
			// A bare CR is content.
			w.content('\r')
		}
		switch c {
		case '\r':
			w.heldCR = true
		case '\n':
			w.endLine()
		default:
			w.content(c)
		}
	}
}

// content takes one byte of a header line (not a line end).
func (w *KeyWriter) content(c byte) {
	if w.atStart {
		w.atStart = false
		if c == ' ' || c == '\t' {
			// A continuation line: still the field before it.
		} else {
			w.inID = false
			w.inName = true
			w.name = w.name[:0]
		}
	}
	w.hashByte(c)
	switch {
	case w.inName:
		if c == ':' {
			w.inName = false
			name := bytes.TrimRight(w.name, " \t")
			if !w.haveID && bytes.EqualFold(name, []byte("Message-ID")) {
				w.haveID, w.inID = true, true
			}
		} else if len(w.name) < 64 {
			w.name = append(w.name, c)
		} else {
			w.inName = false // no field name is that long
		}
	case w.inID:
		if len(w.id) < maxMessageID {
			w.id = append(w.id, c)
		}
	}
}

// endLine ends a header line: an empty one ends the header.
func (w *KeyWriter) endLine() {
	if w.atStart {
		w.headerDone = true
		return
	}
	w.hashByte('\n')
	w.atStart = true
	w.inName = false
}

// HeaderDone reports whether the empty line that ends the header was
// written: what follows does not change HeaderKey.
func (w *KeyWriter) HeaderDone() bool { return w.headerDone }

// HeaderKey returns the header's key. A header that ended without an
// empty line (a message of a header only, or a header cut short) counts
// as it is, its last line ended.
func (w *KeyWriter) HeaderKey() HeaderKey {
	var k HeaderKey
	if id := NormalizeMessageID(string(w.id)); id != "" {
		k.MessageID = id
		return k
	}
	w.flushDigest()
	h := cloneHash(w.digest)
	if !w.headerDone && w.started {
		if w.heldCR {
			h.Write([]byte{'\r'})
		}
		if !w.atStart || w.heldCR {
			h.Write([]byte{'\n'})
		}
	}
	copy(k.Digest[:], h.Sum(nil))
	return k
}

// cloneHash copies h so that finishing the copy leaves h usable.
func cloneHash(h hash.Hash) hash.Hash {
	if c, ok := h.(hash.Cloner); ok {
		if cl, err := c.Clone(); err == nil {
			return cl
		}
	}
	panic("maildir: the header digest cannot be cloned") // crypto/sha256 always can
}

// Key returns the key of what was written: the header's key and the CRLF
// size of every byte written.
func (w *KeyWriter) Key() MatchKey {
	return MatchKey{HeaderKey: w.HeaderKey(), Size: w.size}
}

// ReadHeaderKey reads a header from r (a whole message or only its
// header, CRLF or LF) and returns its key. r may be read past the header.
// A read error other than io.EOF is returned.
func ReadHeaderKey(r io.Reader) (HeaderKey, error) {
	var w KeyWriter
	buf := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(buf)
	for !w.headerDone {
		n, err := r.Read(buf[:])
		w.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return HeaderKey{}, err
		}
	}
	return w.HeaderKey(), nil
}

// ReadMatchKey reads a whole message from r and returns its key.
func ReadMatchKey(r io.Reader) (MatchKey, error) {
	var w KeyWriter
	buf := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(&w, onlyReader{r}, buf[:]); err != nil {
		return MatchKey{}, err
	}
	return w.Key(), nil
}

// onlyReader hides a WriterTo, so that CopyBuffer uses the pooled buffer.
type onlyReader struct{ io.Reader }

// MatchIndex holds the message files of a folder that have one of the keys
// a caller looks for (see IndexMatches).
type MatchIndex struct {
	files map[MatchKey][]Entry
	n     int
}

// IndexMatches reads the message files in the new/ and cur/ of the Maildir
// folder at dir and indexes those whose MatchKey is one of want. It
// creates and changes nothing (a dry run can use it); a folder or
// subdirectory that does not exist has no messages. Only, when not nil,
// limits the files considered.
//
// It costs one read of each file's header, and a read of the whole file
// only for a file whose header key is wanted (its size needs every byte).
// Its memory is bounded by want, not by the folder: names are read in
// chunks, and only matching files are kept. A file that vanishes or cannot
// be read meanwhile is passed over (it is not here); a directory that
// cannot be read is a LocalIO error.
func IndexMatches(dir string, want []MatchKey, only func(Entry) bool) (*MatchIndex, error) {
	ix := &MatchIndex{files: map[MatchKey][]Entry{}}
	if len(want) == 0 {
		return ix, nil
	}
	sizes := map[HeaderKey]map[int64]bool{}
	for _, k := range want {
		if sizes[k.HeaderKey] == nil {
			sizes[k.HeaderKey] = map[int64]bool{}
		}
		sizes[k.HeaderKey][k.Size] = true
	}
	buf := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(buf)
	for _, sub := range []string{"new", "cur"} {
		d := filepath.Join(dir, sub)
		err := eachName(d, func(name string) bool {
			n, err := ParseName(name)
			if err != nil {
				return true
			}
			e := Entry{Unique: n.Unique, Path: filepath.Join(d, name), Flags: n.Flags, New: sub == "new"}
			if only != nil && !only(e) {
				return true
			}
			k, ok := fileKey(e.Path, buf[:], func(h HeaderKey) bool { return sizes[h] != nil })
			if ok && sizes[k.HeaderKey][k.Size] {
				ix.files[k] = append(ix.files[k], e)
				ix.n++
			}
			return true
		})
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, localErr(fmt.Errorf("maildir: index %s: %w", dir, err))
		}
	}
	for _, es := range ix.files {
		slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	}
	return ix, nil
}

// fileKey reads the key of the file at path, reading past its header only
// when wanted says the header key is. ok is false when the file could not
// be read or its header key is not wanted.
func fileKey(path string, buf []byte, wanted func(HeaderKey) bool) (MatchKey, bool) {
	f, err := os.Open(path)
	if err != nil {
		return MatchKey{}, false
	}
	defer f.Close()
	var w KeyWriter
	for !w.headerDone {
		n, err := f.Read(buf)
		w.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return MatchKey{}, false
		}
	}
	if !wanted(w.HeaderKey()) {
		return MatchKey{}, false
	}
	if _, err := io.CopyBuffer(&w, onlyReader{f}, buf); err != nil {
		return MatchKey{}, false
	}
	return w.Key(), true
}

// Len is the number of files indexed and not taken yet.
func (ix *MatchIndex) Len() int { return ix.n }

// Take returns a file with key k and removes it from the index, so that
// two messages with the same key are paired with two files, never one.
// Files with one key are taken in the order of their paths.
func (ix *MatchIndex) Take(k MatchKey) (Entry, bool) {
	es := ix.files[k]
	if len(es) == 0 {
		return Entry{}, false
	}
	ix.files[k] = es[1:]
	ix.n--
	return es[0], true
}

// HasMessages reports whether the Maildir folder at dir holds at least
// one message file in new/ or cur/. It creates nothing; a folder that does
// not exist has none.
func HasMessages(dir string) (bool, error) {
	found := false
	for _, sub := range []string{"new", "cur"} {
		err := eachName(filepath.Join(dir, sub), func(name string) bool {
			if _, err := ParseName(name); err == nil {
				found = true
				return false
			}
			return true
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, localErr(fmt.Errorf("maildir: read %s: %w", dir, err))
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}
