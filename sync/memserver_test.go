package sync

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// memServer starts go-imap's in-memory server with only IMAP4rev1: no
// LIST-STATUS, CONDSTORE, ESEARCH or UIDPLUS, the paths Dovecot does not
// take.
func memServer(t *testing.T) (*imapmemserver.User, string) {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("u", "p")
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return user, ln.Addr().String()
}

func memAppend(t *testing.T, u *imapmemserver.User, box string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := u.Append(box, bytes.NewReader([]byte(b)), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// memClient is a second client, as another device of the user.
func memClient(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func memFlags(t *testing.T, c *imapclient.Client, box string) map[UID]maildir.Flags {
	t.Helper()
	if _, err := c.Select(box, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[UID]maildir.Flags{}
	for _, m := range msgs {
		var names []string
		for _, f := range m.Flags {
			names = append(names, string(f))
		}
		out[UID(m.UID)] = serverFlagsOf(names)
	}
	return out
}

func TestRev1Server(t *testing.T) {
	t.Parallel()
	u, addr := memServer(t)
	for _, box := range []string{"INBOX", "Sub", "../escape", "a//b"} {
		if err := u.Create(box, nil); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(id string) string {
		return "Message-ID: <" + id + "@example.org>\r\nSubject: " + id + "\r\n\r\nbody of " + id + "\r\n"
	}
	memAppend(t, u, "INBOX", msg("i1"), msg("i2"), msg("i3"))
	memAppend(t, u, "Sub", msg("s1"), msg("s2"))
	memAppend(t, u, "../escape", msg("e1"))

	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	run := func(mod func(*Options)) (Result, *eventLog, error) {
		t.Helper()
		st, err := maildir.Open(root, maildir.LayoutFS)
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(addr)
		log := &eventLog{}
		opt := Options{Account: "mem", Host: host, Port: atoi(port),
			Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
			User:     "u", Secret: "p", Store: st, StateDir: state, Sink: log}
		if mod != nil {
			mod(&opt)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := Run(ctx, opt)
		return res, log, err
	}

	res, log, err := run(nil)
	if failure.KindOf(err) != failure.Partial {
		t.Errorf("run with unmappable folders: %v, want a partial failure", err)
	}
	if res.Delivered != 5 {
		t.Errorf("delivered %d, want 5", res.Delivered)
	}
	var bad []string
	for _, e := range log.kind(report.Error) {
		bad = append(bad, e.Folder)
	}
	if strings.Join(bad, ",") != "../escape,a//b" {
		t.Errorf("errors for %v, want the two unmappable names", bad)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
		t.Error("a folder was written outside the Maildir")
	}

	// Excluded by a pattern, they are no error any more.
	pats := func(o *Options) { o.Patterns = []string{"*", "!../*", "!a/*"} }
	if _, log, err = run(pats); err != nil {
		t.Fatalf("with the names excluded: %v", err)
	}
	if n := len(log.changes()); n != 0 {
		t.Errorf("second run: %v", log.changes())
	}

	// Without CONDSTORE every folder is selected and all flags fetched.
	c := memClient(t, addr)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	local := localMessages(t, root)
	for _, m := range local {
		if strings.Contains(string(m.raw), "body of i2") {
			setLocalFlags(t, m, "S")
		}
		if strings.Contains(string(m.raw), "body of i3") {
			os.Remove(m.entry.Path)
		}
	}
	res, log, err = run(func(o *Options) { pats(o); o.ExpungeRemote = true })
	if err != nil {
		t.Fatal(err)
	}
	if res.FlagsPulled != 1 || res.FlagsPushed != 1 || res.RemovedRemote != 0 {
		t.Errorf("result %+v, want one flag change each way and nothing expunged", res)
	}
	if n := log.kind(report.Notice); len(n) != 1 || !strings.Contains(n[0].Text, "UIDPLUS") {
		t.Errorf("notices %v, want one about UIDPLUS", n)
	}
	if f := memFlags(t, c, "INBOX"); f[1] != "F" || f[2] != "S" || len(f) != 3 {
		t.Errorf("server flags %v", f)
	}
	for _, m := range localMessages(t, root) {
		if strings.Contains(string(m.raw), "body of i1") && m.flags != "F" {
			t.Errorf("local i1 flags %q, want F", m.flags)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
