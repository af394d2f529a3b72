package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/imapconn"
	"github.com/mailfetch/mailfetch/maildir"
)

// memConn is an imapconn.Conn in memory: one account whose folders the
// test changes directly. The engine's logic runs against it without a
// socket; it records the changes the engine asks of the server.
type memConn struct {
	mu      gosync.Mutex
	caps    imapconn.Caps
	folders map[string]*memFolder
	sel     *memFolder
	// stores and expunges are what the engine asked, in order.
	stores   []map[UID]imapconn.FlagChange
	expunges [][]UID
}

type memFolder struct {
	name        string
	uidValidity uint32
	modSeq      uint64
	msgs        []*memMsg // by UID
}

type memMsg struct {
	uid    UID
	flags  imapconn.Flags
	body   []byte // with CRLF, as served
	modSeq uint64
}

func newMemConn(condStore, uidPlus bool) *memConn {
	return &memConn{caps: imapconn.Caps{CondStore: condStore, UIDPlus: uidPlus}, folders: map[string]*memFolder{}}
}

// add puts messages into a folder (created when missing).
func (c *memConn) add(folder string, flags imapconn.Flags, bodies ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.folders[folder]
	if f == nil {
		f = &memFolder{name: folder, uidValidity: 7, modSeq: 1}
		c.folders[folder] = f
	}
	for _, b := range bodies {
		f.modSeq++
		next := UID(1)
		if len(f.msgs) > 0 {
			next = f.msgs[len(f.msgs)-1].uid + 1
		}
		f.msgs = append(f.msgs, &memMsg{uid: next, flags: flags, body: []byte(b), modSeq: f.modSeq})
	}
}

func (c *memConn) msg(folder string, uid UID) *memMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.folders[folder].msgs {
		if m.uid == uid {
			return m
		}
	}
	return nil
}

// setFlags changes flags as another client would.
func (c *memConn) setFlags(folder string, uid UID, flags imapconn.Flags) {
	m := c.msg(folder, uid)
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.folders[folder]
	f.modSeq++
	m.flags, m.modSeq = flags, f.modSeq
}

// expunge removes messages as another client would.
func (c *memConn) expunge(folder string, uids ...UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.folders[folder]
	f.msgs = slices.DeleteFunc(f.msgs, func(m *memMsg) bool { return slices.Contains(uids, m.uid) })
	f.modSeq++
}

// dial is Options.dial: every connection is the same account.
func (c *memConn) dial(context.Context) (imapconn.Conn, error) { return c, nil }

func (c *memConn) Caps() imapconn.Caps { return c.caps }

func (c *memConn) ListFolders(context.Context, imapconn.ListOptions) (*imapconn.Listing, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &imapconn.Listing{}
	for name := range c.folders {
		l.Folders = append(l.Folders, &imapconn.Folder{Name: name, Delim: '/', Path: []string{name}, Selectable: true})
	}
	slices.SortFunc(l.Folders, func(a, b *imapconn.Folder) int { return cmpString(a.Name, b.Name) })
	return l, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *memConn) Select(_ context.Context, name string, _ bool) (*imapconn.Selected, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.folders[name]
	if f == nil {
		return nil, errors.New("no such folder")
	}
	c.sel = f
	s := &imapconn.Selected{Name: name, UIDValidity: f.uidValidity, Messages: uint32(len(f.msgs)), UIDNext: 1}
	if len(f.msgs) > 0 {
		s.UIDNext = f.msgs[len(f.msgs)-1].uid + 1
	}
	if c.caps.CondStore {
		s.HighestModSeq = f.modSeq
	}
	return s, nil
}

func (c *memConn) SearchAll(context.Context) ([]UID, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []UID
	for _, m := range c.sel.msgs {
		out = append(out, m.uid)
	}
	return out, true, nil
}

// each calls fn for the selected folder's messages in uids.
func (c *memConn) each(uids []UID, fn func(m *memMsg)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.sel.msgs {
		if slices.Contains(uids, m.uid) {
			fn(m)
		}
	}
}

// all calls fn for every message of the selected folder.
func (c *memConn) all(fn func(m *memMsg)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.sel.msgs {
		fn(m)
	}
}

func (c *memConn) FetchFlags(_ context.Context, upTo UID, since uint64) (map[UID]imapconn.Flags, error) {
	out := map[UID]imapconn.Flags{}
	c.all(func(m *memMsg) {
		if m.uid <= upTo && m.modSeq > since {
			out[m.uid] = m.flags
		}
	})
	return out, nil
}

func (c *memConn) FetchChanges(_ context.Context, since uint64) ([]imapconn.Change, error) {
	var out []imapconn.Change
	c.all(func(m *memMsg) {
		if m.modSeq > since {
			out = append(out, imapconn.Change{UID: m.uid, Flags: m.flags, HasFlags: true, ModSeq: m.modSeq})
		}
	})
	return out, nil
}

func (c *memConn) FetchMeta(_ context.Context, uids []UID, _ bool) ([]imapconn.Meta, error, error) {
	var out []imapconn.Meta
	c.each(uids, func(m *memMsg) {
		out = append(out, imapconn.Meta{UID: m.uid, Size: int64(len(m.body)), Flags: m.flags, Date: time.Unix(1700000000, 0)})
	})
	return out, nil, nil
}

func (c *memConn) FetchBodies(_ context.Context, metas []imapconn.Meta, receive imapconn.ReceiveFunc) error {
	for _, meta := range metas {
		var body []byte
		c.each([]UID{meta.UID}, func(m *memMsg) { body = bytes.ReplaceAll(m.body, []byte("\r\n"), []byte("\n")) })
		rec, err := receive(meta, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if err := rec.Keep(); err != nil {
			return err
		}
	}
	return nil
}

func (c *memConn) FetchHeaders(_ context.Context, uids []UID) (map[UID][]byte, error) {
	out := map[UID][]byte{}
	c.each(uids, func(m *memMsg) {
		head, _, _ := bytes.Cut(m.body, []byte("\r\n\r\n"))
		out[m.uid] = append(head, "\r\n\r\n"...)
	})
	return out, nil
}

func (c *memConn) FetchAllHeaders(_ context.Context, _ ...string) ([]imapconn.Header, error) {
	var out []imapconn.Header
	c.all(func(m *memMsg) {
		head, _, _ := bytes.Cut(m.body, []byte("\r\n\r\n"))
		out = append(out, imapconn.Header{UID: m.uid, Size: int64(len(m.body)), Flags: m.flags, Header: append(head, "\r\n\r\n"...)})
	})
	return out, nil
}

func (c *memConn) FetchDigests(_ context.Context, uids []UID) (map[UID]imapconn.Digest, error) {
	out := map[UID]imapconn.Digest{}
	c.each(uids, func(m *memMsg) {
		out[m.uid] = sha256.Sum256(bytes.ReplaceAll(m.body, []byte("\r\n"), []byte("\n")))
	})
	return out, nil
}

func (c *memConn) Store(_ context.Context, changes map[UID]imapconn.FlagChange, _ uint64) (map[UID]bool, error) {
	c.mu.Lock()
	c.stores = append(c.stores, changes)
	c.mu.Unlock()
	out := map[UID]bool{}
	c.all(func(m *memMsg) {
		if ch, ok := changes[m.uid]; ok {
			c.sel.modSeq++
			m.flags = m.flags&^ch.Remove | ch.Add
			m.modSeq = c.sel.modSeq
			out[m.uid] = true
		}
	})
	return out, nil
}

func (c *memConn) Expunge(_ context.Context, uids []UID) error {
	if !c.caps.UIDPlus {
		return errors.New("memConn: Expunge without UIDPLUS")
	}
	c.mu.Lock()
	c.expunges = append(c.expunges, slices.Clone(uids))
	name := c.sel.name
	c.mu.Unlock()
	c.expunge(name, uids...)
	return nil
}

func (c *memConn) KeepAlive() func() { return func() {} }
func (c *memConn) Alive() bool       { return true }
func (c *memConn) Abort()            {}
func (c *memConn) Close()            {}

// memRun syncs c into root with opt changed by mod.
func memRun(t *testing.T, c *memConn, root, state string, mod func(*Options)) (Result, *eventLog, error) {
	t.Helper()
	st, err := maildir.Open(root, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	opt := Options{Account: "mem", Host: "mem.invalid", Store: st, StateDir: state, Sink: log, Jobs: 1, dial: c.dial}
	if mod != nil {
		mod(&opt)
	}
	res, err := Run(t.Context(), opt)
	return res, log, err
}

// memBodies are n messages with a Message-ID each, CRLF.
func memBodies(seed int64, n int) []string {
	var out []string
	for _, m := range dovetest.Generate(seed, n) {
		out = append(out, string(dovetest.CRLF(m.Raw)))
	}
	return out
}

// memLocal returns the local file of each message of the folder, by UID,
// matched by content.
func memLocal(t *testing.T, c *memConn, dir, folder string) map[UID]localMsg {
	t.Helper()
	out := map[UID]localMsg{}
	local := localMessages(t, dir)
	c.mu.Lock()
	msgs := slices.Clone(c.folders[folder].msgs)
	c.mu.Unlock()
	for _, m := range msgs {
		for _, l := range local {
			if bytes.Equal(l.raw, toLF(m.body)) {
				out[m.uid] = l
			}
		}
	}
	return out
}
