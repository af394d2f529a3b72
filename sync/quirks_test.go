package sync

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/failure"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/internal/transport"
	"github.com/mailfetch/mailfetch/maildir"
)

// fakeRunWith syncs the fake server into root, with opt changed by mod.
func fakeRunWith(t *testing.T, f *fakeServer, root, state string, mod func(*Options)) (Result, *eventLog, error) {
	t.Helper()
	st, err := maildir.Open(root, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	opt := Options{
		Account: "fake", Host: "127.0.0.1", Port: f.port(),
		Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true},
		User:     "u", Secret: "p", Auth: "login",
		Store: st, StateDir: state, Sink: log,
	}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, opt)
	return res, log, err
}

// checkFakeMirror checks that dir holds each of msgs exactly once, byte
// for byte (LF line ends), with its flags, and nothing else.
func checkFakeMirror(t *testing.T, dir string, msgs []*fakeMsg) {
	t.Helper()
	local := localMessages(t, dir)
	left := map[string]int{}
	for _, m := range local {
		left[string(m.raw)+"\x00"+string(m.flags)]++
	}
	for _, m := range msgs {
		key := string(toLF(m.body)) + "\x00" + string(serverFlagsOf(m.flags))
		if left[key] == 0 {
			t.Errorf("%s: UID %d (flags %v) has no local copy with these bytes and flags", dir, m.uid, m.flags)
			continue
		}
		left[key]--
	}
	if len(local) != len(msgs) {
		t.Errorf("%s: %d local messages, want %d", dir, len(local), len(msgs))
	}
}

func withFlags(f *fakeServer, flags ...[]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fl := range flags {
		f.msgs[i].flags = fl
	}
}

// A server that sends BODY[] before UID (and FLAGS after the body), as
// RFC 3501 allows: go-imap hands such a body to the unilateral handler.
// The messages are fetched again by sequence number in the same run, and
// every folder after that goes by sequence number straight away: every
// message arrives exactly once, byte for byte, with its flags.
func TestFetchItemsInAnyOrder(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(5))
	withFlags(f, []string{`\Seen`}, nil, []string{`\Flagged`, `\Answered`}, []string{`\Seen`, `\Draft`}, nil)
	other := f.addFolder("Other", []string{"Other"}, fakeBodies(3))
	other.msgs[1].flags = []string{`\Seen`}
	f.bodyBeforeUID = true
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	oneJob := func(o *Options) { o.Jobs = 1 }

	res, log, err := fakeRunWith(t, f, root, state, oneJob)
	if err != nil || res.Delivered != 8 {
		t.Fatalf("Run: %+v, %v; want 8 delivered", res, err)
	}
	for _, ev := range log.kind(report.Error) {
		t.Errorf("error event: %v", ev.Err)
	}
	checkFakeMirror(t, root, f.msgs)
	checkFakeMirror(t, filepath.Join(root, ".Other"), other.msgs)
	f.mu.Lock()
	var bodyFetches []string
	for _, c := range f.commands {
		if strings.Contains(c, "BODY.PEEK[]") {
			bodyFetches = append(bodyFetches, c)
		}
	}
	f.mu.Unlock()
	// INBOX: the UID FETCH whose bodies went astray, then the FETCH by
	// sequence number; Other: by sequence number only.
	if len(bodyFetches) != 3 || !strings.HasPrefix(bodyFetches[0], "UID FETCH") ||
		!strings.HasPrefix(bodyFetches[1], "FETCH ") || !strings.HasPrefix(bodyFetches[2], "FETCH ") {
		t.Errorf("body fetches %q, want a UID FETCH, then two FETCHes by sequence number", bodyFetches)
	}

	// Nothing twice, on the next runs either.
	f.mu.Lock()
	f.msgs = append(f.msgs, &fakeMsg{uid: 6, body: []byte("Subject: six\r\n\r\nsix\r\n"), flags: []string{`\Seen`}})
	f.mu.Unlock()
	if res, _, err = fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 1 {
		t.Fatalf("second run: %+v, %v; want the new message", res, err)
	}
	if res, _, err = fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 0 {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	checkFakeMirror(t, root, f.msgs)
	checkFakeMirror(t, filepath.Join(root, ".Other"), other.msgs)
}

// The guard stays: with BODY[] before UID, a response that carries no UID
// at all is never delivered (its body cannot be told apart from another
// message's); the run says so, and the next run fetches it once.
func TestFetchBodyWithoutUID(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(5))
	f.bodyBeforeUID = true
	f.omitBodyUID[3] = true
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")

	res, log, err := fakeRunWith(t, f, root, state, nil)
	if err == nil {
		t.Fatalf("Run succeeded with a body without UID: %+v", res)
	}
	if res.Delivered != 4 {
		t.Errorf("delivered %d, want the 4 with a UID", res.Delivered)
	}
	errs := log.kind(report.Error)
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "without their UID") || !strings.Contains(errs[0].Err.Error(), "UIDs 3") {
		t.Errorf("error events %v, want one about a body without UID naming UID 3", errs)
	}
	checkFakeMirror(t, root, slices.Concat(f.msgs[:2], f.msgs[3:]))

	f.mu.Lock()
	delete(f.omitBodyUID, 3)
	f.mu.Unlock()
	if res, _, err = fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 1 {
		t.Fatalf("after the fault: %+v, %v; want UID 3 delivered", res, err)
	}
	checkFakeMirror(t, root, f.msgs)
}

// An MDA delivers while the body streams, before the UID after it is
// read: each message still reaches it exactly once.
// A re-match on a server that sends BODY[...] before UID: the Message-ID
// headers it fetches must not be lost (they were, to go-imap's unilateral
// handler, and every message was then downloaded again).
func TestRematchItemsInAnyOrder(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(6))
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if res, _, err := fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 6 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	f.bodyBeforeUID = true
	// A lost state over a Maildir that holds the mail: re-matched.
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	res, log, err := fakeRunWith(t, f, root, state, nil)
	if err != nil || res.Delivered != 0 {
		t.Fatalf("re-match: %+v, %v; want nothing downloaded; notices %v; commands %q", res, err, log.kind(report.Notice), f.commands)
	}
	assertNotice(t, log, "INBOX", "re-matched 6 by Message-ID")
	checkFakeMirror(t, root, f.msgs)
}

// A local deletion recorded on a server that sends BODY[...] before UID:
// the header that makes its match key must not be lost to go-imap's
// unilateral handler (it was: the deletion then did not survive a change
// of UIDVALIDITY, and the message came back).
func TestDeletionKeyItemsInAnyOrder(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(4))
	f.bodyBeforeUID = true
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if res, _, err := fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 4 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	for _, m := range localMessages(t, root) {
		if strings.Contains(string(m.raw), "body 2") {
			if err := os.Remove(m.entry.Path); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res, _, err := fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 0 {
		t.Fatalf("run after the deletion: %+v, %v", res, err)
	}
	f.mu.Lock()
	f.uidValidity++
	f.mu.Unlock()
	res, log, err := fakeRunWith(t, f, root, state, nil)
	if err != nil || res.Delivered != 0 {
		t.Fatalf("after the UIDVALIDITY change: %+v, %v; want the deleted message kept away", res, err)
	}
	assertNotice(t, log, "INBOX", "UIDVALIDITY changed", "1 message(s) deleted locally stay deleted")
	checkFakeMirror(t, root, slices.Concat(f.msgs[:2], f.msgs[3:]))
}

// A re-match by content on a server that sends BODY[] before UID: the
// bodies hashed to pair messages without a Message-ID must not be lost
// (they were, and every such message was downloaded a second time).
func TestRematchByContentItemsInAnyOrder(t *testing.T) {
	t.Parallel()
	var bodies [][]byte
	for i := range 4 {
		bodies = append(bodies, []byte(fmt.Sprintf("Subject: no id %d\r\n\r\nbody %d\r\n", i, i)))
	}
	f := newFakeServer(t, bodies)
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	if res, _, err := fakeRunWith(t, f, root, state, nil); err != nil || res.Delivered != 4 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	f.bodyBeforeUID = true
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	res, log, err := fakeRunWith(t, f, root, state, nil)
	if err != nil || res.Delivered != 0 {
		t.Fatalf("re-match: %+v, %v; want nothing downloaded; notices %v", res, err, log.kind(report.Notice))
	}
	assertNotice(t, log, "INBOX", "4 by content")
	checkFakeMirror(t, root, f.msgs)
}

func TestFetchItemsInAnyOrderMDA(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(4))
	f.bodyBeforeUID = true
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := &maildir.MDA{Command: fmt.Sprintf(`cat > '%s'/"$(date +%%s%%N).$$"`, out)}
	withMDA := func(o *Options) { o.Store, o.MDA = nil, mda }
	for run := range 2 {
		if res, _, err := fakeRunWith(t, f, filepath.Join(dir, "Mail"), filepath.Join(dir, "state"), withMDA); err != nil || res.Delivered != 4-4*run {
			t.Fatalf("run %d: %+v, %v", run, res, err)
		}
	}
	entries, _ := os.ReadDir(out)
	got := map[string]int{}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(out, e.Name()))
		got[string(b)]++
	}
	for _, m := range f.msgs {
		if got[string(toLF(m.body))] != 1 && got[string(m.body)] != 1 {
			t.Errorf("UID %d delivered %d times", m.uid, got[string(toLF(m.body))]+got[string(m.body)])
		}
	}
}

// Folder names that do not decode (not modified UTF-7; CR and LF in a
// literal, as Yandex has produced): go-imap would fail the whole LIST and
// nothing would sync. Each such folder is skipped with a warning that
// shows its raw bytes; INBOX and the other folders sync; the exit code is
// partial; a pattern that excludes it by that spelling silences it.
func TestUndecodableFolderNames(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(3))
	good := f.addFolder("Good", []string{"Good"}, fakeBodies(2))
	crlf := "Yandex\r\nBox"
	f.addFolder(`"Bad&Jjo"`, []string{"Bad&Jjo"}, fakeBodies(1))
	f.addFolder(fmt.Sprintf("{%d}\r\n%s", len(crlf), crlf), []string{crlf}, fakeBodies(1))
	f.addFolder("\"Latin\xffName\"", []string{"Latin\xffName"}, fakeBodies(1))
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")

	res, log, err := fakeRunWith(t, f, root, state, nil)
	if failure.KindOf(err) != failure.Partial {
		t.Fatalf("Run: %v (%v), want a partial failure", err, failure.KindOf(err))
	}
	if res.Delivered != 5 || res.Failed != 3 {
		t.Errorf("result %+v, want INBOX's 3 and Good's 2 delivered, 3 folders failed", res)
	}
	checkFakeMirror(t, root, f.msgs)
	checkFakeMirror(t, filepath.Join(root, ".Good"), good.msgs)
	errs := log.kind(report.Error)
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.Err.Error())
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{`'Bad&Jjo'`, `'Yandex\x0d\x0aBox'`, `'Latin\xffName'`, `'!Yandex\x0d\x0aBox'`} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning shows %s:\n%s", want, all)
		}
	}
	if len(errs) != 3 {
		t.Errorf("%d error events, want 3:\n%s", len(errs), all)
	}
	f.mu.Lock()
	for _, s := range f.selects {
		if s != "INBOX" && s != "Good" {
			t.Errorf("SELECT %q was sent", s)
		}
	}
	f.mu.Unlock()

	// Excluded by the names the warnings show: no warning, success.
	res, log, err = fakeRunWith(t, f, root, state, func(o *Options) {
		o.Patterns = []string{"*", `!Bad&Jjo`, `!Yandex\x0d\x0aBox`, `!Latin\x*`}
	})
	if err != nil || len(log.kind(report.Error)) != 0 || res.Failed != 0 {
		t.Fatalf("with excludes: %+v, %v, %v", res, err, log.kind(report.Error))
	}
}

// UTF8=ACCEPT (RFC 6855) is enabled where offered. Names are then UTF-8
// on the wire: "R&D" comes and goes as it is (go-imap alone would fail
// on it coming, and send "R&-D"), "Entwürfe" too; a name that is not
// UTF-8 is skipped as undecodable.
func TestUTF8Accept(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, fakeBodies(1))
	f.caps = "ENABLE UTF8=ACCEPT"
	rd := f.addFolder(`"R&-D"`, []string{"R&D"}, fakeBodies(2))
	rd.listUTF8 = `"R&D"`
	ent := f.addFolder(`"Entw&APw-rfe"`, []string{"Entwürfe"}, [][]byte{[]byte("Subject: Grüße\r\nFrom: Jürgen <j@example.org>\r\n\r\nUTF-8 header\r\n")})
	ent.listUTF8 = `"Entwürfe"`
	bad := f.addFolder(`"Bad&Jjo"`, []string{"Bad\xff"}, nil)
	bad.listUTF8 = "\"Bad\xff\""
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")

	res, log, err := fakeRunWith(t, f, root, state, nil)
	if failure.KindOf(err) != failure.Partial || res.Delivered != 4 {
		t.Fatalf("Run: %+v, %v; want 4 delivered and the folder that is not UTF-8 skipped", res, err)
	}
	if errs := log.kind(report.Error); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), `'Bad\xff'`) {
		t.Errorf("error events %v", errs)
	}
	if !f.sawCommand("ENABLE UTF8=ACCEPT") {
		t.Error("UTF8=ACCEPT was not enabled")
	}
	checkFakeMirror(t, filepath.Join(root, ".R&D"), rd.msgs)
	checkFakeMirror(t, filepath.Join(root, ".Entwürfe"), ent.msgs)
	f.mu.Lock()
	if !slices.Contains(f.selects, "R&D") || !slices.Contains(f.selects, "Entwürfe") || slices.Contains(f.selects, "R&-D") {
		t.Errorf("SELECTs %q, want R&D and Entwürfe in UTF-8", f.selects)
	}
	f.mu.Unlock()
}

// A server that announces IMAP4rev2 without UTF8=ACCEPT: go-imap writes
// names in UTF-8 then, but the server expects modified UTF-7 until UTF-8
// is enabled; the names are sent as it expects.
func TestIMAP4rev2NamesWithoutUTF8(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	f.caps = "IMAP4rev2"
	ent := f.addFolder(`"Entw&APw-rfe"`, []string{"Entw&APw-rfe"}, fakeBodies(2))
	rd := f.addFolder(`"R&-D"`, []string{"R&-D"}, fakeBodies(1))
	dir := t.TempDir()
	root, state := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")
	res, log, err := fakeRunWith(t, f, root, state, nil)
	if err != nil || res.Delivered != 3 {
		t.Fatalf("Run: %+v, %v, %v", res, err, log.kind(report.Error))
	}
	checkFakeMirror(t, filepath.Join(root, ".Entwürfe"), ent.msgs)
	checkFakeMirror(t, filepath.Join(root, ".R&D"), rd.msgs)
}

// popFake greets like a POP3 server and refuses every command.
func popFake(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "+OK POP3 server ready <1.2@example.org>\r\n")
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := io.WriteString(c, "-ERR unknown command\r\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// IMAP pointed at a POP3 server: a protocol error (exit 76) that says so,
// on the plain path (greeting read by go-imap) and the STARTTLS path
// (greeting read by hand), not go-imap's message and "try later".
func TestWrongProtocolPOP3(t *testing.T) {
	t.Parallel()
	port := popFake(t)
	for _, mode := range []transport.TLSMode{transport.TLSNone, transport.TLSStartTLS} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Check(ctx, Options{Host: "127.0.0.1", Port: port,
			Security: transport.Security{Mode: mode, AllowPlaintextAuth: true}, User: "u", Secret: "p"})
		cancel()
		if failure.KindOf(err) != failure.Protocol || failure.Code(err) != 76 {
			t.Errorf("mode %v: %v (%v), want a protocol error", mode, err, failure.KindOf(err))
			continue
		}
		want := fmt.Sprintf("imap: port %d of 127.0.0.1 answered like a POP3 server", port)
		if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "IMAP is 993 (implicit TLS) or 143") || strings.Contains(msg, "\n") {
			t.Errorf("mode %v: message %q", mode, msg)
		}
	}
}

// scriptedIMAP is a server that greets, accepts LOGIN, and then answers
// LIST with reply (a whole response stream, without the tagged end when
// cut is set: it then closes the connection).
func scriptedIMAP(t *testing.T, reply string, cut bool) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "* OK [CAPABILITY IMAP4rev1] ready\r\n")
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\r\n") {
						tag, cmd, _ := strings.Cut(line, " ")
						switch {
						case strings.HasPrefix(cmd, "LIST"):
							io.WriteString(c, reply)
							if cut {
								return
							}
							io.WriteString(c, tag+" OK done\r\n")
						case strings.HasPrefix(cmd, "LOGOUT"):
							io.WriteString(c, "* BYE bye\r\n"+tag+" OK done\r\n")
							return
						default:
							io.WriteString(c, tag+" OK [CAPABILITY IMAP4rev1] done\r\n")
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// A reply that can never parse is a protocol error (76), not a temporary
// one; a connection cut in the middle of a reply stays temporary (75).
func TestUnparseableReply(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		reply string
		cut   bool
		want  failure.Kind
	}{
		{"garbage", "* LIST ((( \"/\" x\r\n", false, failure.Protocol},
		{"unknown response", "* XYZZY 1 2 3\r\n", false, failure.Protocol},
		{"bad number", "* 99999999999999 EXISTS\r\n", false, failure.Protocol},
		{"cut", "* LIST () \"/\" \"Archi", true, failure.Temporary},
		{"cut in a literal", "* LIST () \"/\" {10}\r\nAr", true, failure.Temporary},
	} {
		port := scriptedIMAP(t, c.reply, c.cut)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Check(ctx, Options{Host: "127.0.0.1", Port: port,
			Security: transport.Security{Mode: transport.TLSNone, AllowPlaintextAuth: true}, User: "u", Secret: "p", Auth: "login"})
		cancel()
		if failure.KindOf(err) != c.want {
			t.Errorf("%s: %v (%v), want %v", c.name, err, failure.KindOf(err), c.want)
		}
	}
}
