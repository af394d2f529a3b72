package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Target is where messages go: a Maildir *Folder, or an *MDA command.
//
// The engines use it per batch: Stage every message of the batch, journal
// them as pending (with Sync), Publish the batch, journal them as done,
// and only then acknowledge them to the server (DESIGN.md invariants 1, 2).
type Target interface {
	// Stage reads r to its end and writes the message. For a Folder the
	// bytes are in tmp/ when it returns, not yet durable (their fsync may
	// be in flight, or Publish syncs their file system); for an MDA the
	// message is delivered.
	Stage(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error)
	// Publish makes the staged messages' bytes durable (waits for their
	// fsyncs, or syncs their file system once), renames them into new/ or
	// cur/ and fsyncs each touched directory once.
	Publish(staged ...*Staged) error
	// Discard removes the tmp/ files of staged messages not published.
	Discard(staged ...*Staged)
}

// StageOptions says where and how a message is delivered.
type StageOptions struct {
	// Flags of the message (IMAP flags mapped to Maildir). A message with
	// flags goes into cur/ even if Cur is false: a name in new/ has no
	// info, so the flags would be lost.
	Flags Flags
	// Cur delivers into cur/ with a ":2,<flags>" info (a message the user
	// has seen elsewhere); otherwise into new/ without info.
	Cur bool
	// ModTime, when set, becomes the file's modification time, which
	// Maildir readers (Dovecot, mutt) take for the received date: pass
	// IMAP's INTERNALDATE.
	ModTime time.Time
	// SizeHint is the size the server announced (IMAP RFC822.SIZE, POP3
	// LIST), or 0. It is advisory and currently unused: the ",S=" of the
	// file name is the exact number of bytes written, since readers
	// trust it, and servers count sizes differently (CRLF).
	SizeHint int64
}

// Staged is one message written by Stage: in tmp/ until Publish moves it
// into new/ or cur/. Its methods are safe for concurrent use; Publish and
// Discard of one Staged are not meant to race each other.
type Staged struct {
	folder  *Folder // nil for an MDA delivery
	unique  string
	size    int64
	header  Header
	tmpPath string
	dest    string // new/ or cur/ path it is published to

	done    chan struct{} // closed when the fsync ended; syncErr is its result
	syncErr error         // set under mu by syncStaged in the syncWholeFS mode
	seq     uint64        // in the syncWholeFS mode, its number on its file system

	mu    sync.Mutex
	state stagedState
}

type stagedState int

const (
	stagedWritten   stagedState = iota // in tmp/, fsync maybe in flight
	stagedRenamed                      // in new/ or cur/, directory not yet fsynced (within Publish)
	stagedPublished                    // durable in new/ or cur/ (or delivered by an MDA)
	stagedDropped                      // discarded, or failed and removed
)

// Unique is the message's unique name: the file name without info,
// stable for the message's life in the Maildir, which Folder.Find looks
// up after a crash. It is "" for an MDA delivery.
func (s *Staged) Unique() string { return s.unique }

// Size is the number of bytes of the message.
func (s *Staged) Size() int64 { return s.size }

// Path is the message's file once Publish made it durable in new/ or cur/;
// "" before, after a failure, and always for an MDA delivery.
func (s *Staged) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stagedPublished {
		return s.dest
	}
	return ""
}

// Header is what was decoded from the message's header (the first 64 KiB
// at most).
func (s *Staged) Header() Header { return s.header }

// bufSize is the copy buffer of a delivery: a message of any size costs
// this much memory, plus at most maxHeader for its header.
const bufSize = 64 << 10

var bufPool = sync.Pool{New: func() any { return new([bufSize]byte) }}

// noFsync is the done of a message written in the syncWholeFS mode: no
// fsync of its own to wait for.
var noFsync = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Deliver delivers one message durably: Stage then Publish. On failure
// nothing of it is left in the folder. Batches are faster with Stage for
// each message and one Publish.
func (f *Folder) Deliver(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error) {
	st, err := f.Stage(ctx, r, opt)
	if err != nil {
		return nil, err
	}
	if err := f.Publish(st); err != nil {
		f.Discard(st)
		return nil, err
	}
	return st, nil
}

// Stage writes the message read from r into a new file in tmp/ (0600)
// through a fixed buffer, capturing its header on the way. Where each file
// is fsynced (see "Durability modes" in the package comment) it hands the
// file's fsync to the store's pool (32 in flight); when the pool is full
// it waits for a slot, so open files stay bounded. Where Publish syncs the
// whole file system it closes the file. It is safe for concurrent use. On
// any failure (the reader's, the disk's, ctx) nothing is left in tmp/.
// Reader errors keep their kind; file-system errors are failure.LocalIO.
func (f *Folder) Stage(ctx context.Context, r io.Reader, opt StageOptions) (*Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("maildir: deliver into %s: %w", f.tmpDir, err)
	}
	var seq uint64
	if f.fs.mode == syncWholeFS {
		// Numbered before it is created: a syncfs that fails from now
		// on may have failed to write this file (see fileSystem.sync).
		var err error
		if seq, err = f.fs.begin(f.tmpDir); err != nil {
			return nil, localErr(fmt.Errorf("maildir: deliver into %s: open: %w", f.tmpDir, unwrapPath(err)))
		}
	}
	// end undoes begin when the file is not staged after all.
	end := func() {
		if seq != 0 {
			f.fs.end()
		}
	}
	base := NewUnique(-1)
	tmpPath := filepath.Join(f.tmpDir, base)
	file, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		end()
		return nil, localErr(fmt.Errorf("maildir: deliver into %s: create: %w", f.tmpDir, unwrapPath(err)))
	}
	fail := func(err error) (*Staged, error) {
		file.Close()
		os.Remove(tmpPath)
		end()
		return nil, err
	}
	var hc headerCapture
	n, cerr := copyMessage(ctx, file, r, &hc)
	if cerr != nil {
		return fail(cerr.wrap("deliver into " + f.tmpDir))
	}
	if !opt.ModTime.IsZero() {
		// Before the fsync, so the time is as durable as the bytes.
		if err := os.Chtimes(tmpPath, time.Time{}, opt.ModTime); err != nil {
			return fail(localErr(fmt.Errorf("maildir: deliver into %s: set time: %w", f.tmpDir, unwrapPath(err))))
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("maildir: deliver into %s: %w", f.tmpDir, err))
	}
	if f.fs.mode == syncWholeFS {
		if err := file.Close(); err != nil {
			os.Remove(tmpPath)
			end()
			return nil, localErr(fmt.Errorf("maildir: deliver into %s: close: %w", f.tmpDir, unwrapPath(err)))
		}
	} else {
		select {
		case f.store.syncSlots <- struct{}{}:
		case <-ctx.Done():
			return fail(fmt.Errorf("maildir: deliver into %s: %w", f.tmpDir, ctx.Err()))
		}
	}

	unique := base + ",S=" + strconv.FormatInt(n, 10)
	flags := ParseFlags(string(opt.Flags))
	dest := filepath.Join(f.newDir, unique)
	if opt.Cur || flags != "" {
		dest = filepath.Join(f.curDir, Name{Unique: unique, HasInfo: true, Flags: flags}.String())
	}
	st := &Staged{
		folder:  f,
		unique:  unique,
		size:    n,
		header:  hc.result(),
		tmpPath: tmpPath,
		dest:    dest,
		seq:     seq,
	}
	if f.fs.mode == syncWholeFS {
		st.done = noFsync
		return st, nil
	}
	st.done = make(chan struct{})
	go func() {
		err := f.store.seams.fileSync(file)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		<-f.store.syncSlots
		if err != nil {
			st.syncErr = localErr(fmt.Errorf("maildir: deliver into %s: fsync: %w", f.tmpDir, unwrapPath(err)))
		}
		close(st.done)
	}()
	return st, nil
}

// Publish makes staged messages durable in their folders (DESIGN.md
// invariant 1): it waits for each file's fsync, or syncs each file system
// written in the syncWholeFS mode once (syncfs(2)), then renames each file
// whose bytes are durable from tmp/ into new/ or cur/ without ever
// replacing an existing file, then fsyncs each directory it renamed into,
// once. After a failed syncfs none of the files it covered is renamed.
// Messages of several folders may be published together; one already
// published is skipped. A message whose
// fsync, rename or directory fsync failed is removed (from tmp/, or from
// new/ or cur/: after a failed fsync nothing says the name would survive
// a crash, and a message the engine takes for undelivered is fetched again
// rather than lost) and keeps Path() == "". The error joins every failure.
func (f *Folder) Publish(staged ...*Staged) error {
	var errs []error
	var dirs []string
	byDir := map[string][]*Staged{}
	syncStaged(staged)
	for _, st := range staged {
		if st == nil || st.folder == nil {
			continue // an MDA delivery is complete at Stage
		}
		<-st.done
		st.mu.Lock()
		switch st.state {
		case stagedWritten:
			if st.syncErr != nil {
				errs = append(errs, st.syncErr)
				st.drop()
			} else if err := renameNoReplace(st.tmpPath, st.dest); err != nil {
				errs = append(errs, localErr(fmt.Errorf("maildir: publish %s into %s: %w", filepath.Base(st.tmpPath), filepath.Dir(st.dest), err)))
				st.drop()
			} else {
				dir := filepath.Dir(st.dest)
				if byDir[dir] == nil {
					dirs = append(dirs, dir)
				}
				byDir[dir] = append(byDir[dir], st)
				st.state = stagedRenamed
			}
		case stagedDropped:
			errs = append(errs, fmt.Errorf("maildir: publish %s: already discarded or failed", st.unique))
		}
		st.mu.Unlock()
	}
	for _, dir := range dirs {
		err := f.store.seams.publishDirSync(dir)
		if err != nil {
			errs = append(errs, localErr(fmt.Errorf("maildir: publish: %w", err)))
		}
		for _, st := range byDir[dir] {
			st.mu.Lock()
			if err != nil {
				os.Remove(st.dest)
				st.state = stagedDropped
			} else {
				st.state = stagedPublished
			}
			st.ended()
			st.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Discard removes the tmp/ files of staged messages that were not
// published, waiting for their fsyncs to end first. Published messages are
// left alone.
func (f *Folder) Discard(staged ...*Staged) {
	for _, st := range staged {
		if st == nil || st.folder == nil {
			continue
		}
		<-st.done
		st.mu.Lock()
		if st.state == stagedWritten {
			st.drop()
		}
		st.mu.Unlock()
	}
}

// drop removes the tmp/ file; st.mu is held.
func (st *Staged) drop() {
	os.Remove(st.tmpPath)
	st.state = stagedDropped
	st.ended()
}

// ended tells the file system of a file staged in the syncWholeFS mode
// that the file is published or removed for good; st.mu is held.
func (st *Staged) ended() {
	if st.seq != 0 {
		st.folder.fs.end()
	}
}

// copyError is a failure of copyMessage: on the reader's side (kept as it
// is) or on the writer's (the local file system, or an MDA's stdin).
type copyError struct {
	op    string // "read message", "write"
	err   error
	local bool
}

func (e *copyError) wrap(where string) error {
	err := fmt.Errorf("maildir: %s: %s: %w", where, e.op, e.err)
	if e.local {
		return localErr(err)
	}
	return err
}

// copyMessage copies r to w through one pooled buffer (DESIGN.md invariant
// 4), feeding the header capture, and checks ctx between chunks. It fills
// the buffer before each write, so a message costs one write per 64 KiB
// whatever the reader's chunks. End of message is io.EOF from r and
// nothing else: an io.ErrUnexpectedEOF from a cut connection is an error.
// It returns the number of bytes read from r.
func copyMessage(ctx context.Context, w io.Writer, r io.Reader, hc *headerCapture) (int64, *copyError) {
	buf := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, &copyError{op: "read message", err: err}
		}
		m, rerr := fill(r, buf[:])
		if m > 0 {
			hc.feed(buf[:m])
			n += int64(m)
			if _, err := w.Write(buf[:m]); err != nil {
				return n, &copyError{op: "write", err: unwrapPath(err), local: true}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, &copyError{op: "read message", err: rerr}
		}
	}
}

// fill reads into p until it is full or r fails; a full p comes with a nil
// error even if r is at its end.
func fill(r io.Reader, p []byte) (int, error) {
	n, empty := 0, 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}
