package dovetest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ports := []int{s.IMAPPort, s.IMAPSPort, s.POP3Port, s.POP3SPort}
	for _, p := range ports {
		if p <= 0 || strings.Count(fmt.Sprint(ports), " "+strconv.Itoa(p)) > 1 {
			t.Fatalf("ports %v: want four distinct ports", ports)
		}
	}
	if s.Host != "127.0.0.1" {
		t.Errorf("Host = %q", s.Host)
	}

	if g := greeting(t, s.IMAPAddr(), nil); !strings.HasPrefix(g, "* OK ") {
		t.Errorf("IMAP greeting %q", g)
	}
	if g := greeting(t, s.POP3Addr(), nil); !strings.HasPrefix(g, "+OK ") {
		t.Errorf("POP3 greeting %q", g)
	}
	// Verified against CAFile alone, for each name the certificate covers.
	for _, name := range []string{"127.0.0.1", "localhost"} {
		cfg, err := s.TLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.ServerName = name
		if g := greeting(t, s.IMAPSAddr(), cfg); !strings.HasPrefix(g, "* OK ") {
			t.Errorf("IMAPS greeting for %s: %q", name, g)
		}
		if g := greeting(t, s.POP3SAddr(), cfg); !strings.HasPrefix(g, "+OK ") {
			t.Errorf("POP3S greeting for %s: %q", name, g)
		}
	}
	// Without the CA file the certificate must not verify.
	conn, err := tls.Dial("tcp", s.IMAPSAddr(), &tls.Config{ServerName: "127.0.0.1"})
	if err == nil {
		conn.Close()
		t.Error("IMAPS verified without the CA file")
	}

	if fi, err := os.Stat(filepath.Join(s.Dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem: %v, %v; want mode 0600", fi.Mode(), err)
	}
	conf, err := os.ReadFile(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(conf, []byte("/etc/dovecot")) {
		t.Errorf("config refers to /etc/dovecot:\n%s", conf)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if left := leftovers(s); len(left) > 0 {
		t.Errorf("processes left after Stop:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir after Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.IMAPAddr(), time.Second); err == nil {
		t.Error("IMAP port still accepts connections after Stop")
	}
}

// TestKeptDir: a given Dir survives Stop with its mail, and a second
// server on it serves that mail.
func TestKeptDir(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	// Long enough that base_dir's socket paths would not fit below it.
	dir := filepath.Join(top, "state-"+strings.Repeat("x", 60))
	if _, err := StartServer(Options{Dir: dir}); os.Geteuid() == 0 && err == nil {
		t.Fatal("root: a Dir below a 0700 directory was accepted")
	}
	// Dovecot's unprivileged processes must reach the state dir: open up
	// t.TempDir's two levels (TMPDIR/TestKeptDirNNN/001).
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	s := Start(t, Options{Dir: dir})
	if !s.ownBaseDir || strings.HasPrefix(s.baseDir, dir) {
		t.Errorf("base_dir %s for a %d-byte Dir", s.baseDir, len(dir))
	}
	if err := s.Seed("alice", "INBOX", Generate(3, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s2 := Start(t, Options{Dir: dir})
	if s2.CertSHA256 != s.CertSHA256 {
		t.Error("a kept Dir got a new certificate")
	}
	if n, err := s2.Count("alice", "INBOX"); err != nil || n != 5 {
		t.Fatalf("Count after restart = %d, %v; want 5", n, err)
	}
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s2.baseDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("separate base_dir after Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "home")); err != nil {
		t.Errorf("kept Dir lost its mail: %v", err)
	}
}

// TestPortRace: a port taken between picking and binding makes Dovecot
// exit; StartServer tries again with new ports.
func TestPortRace(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[2] = busy.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()
	s := Start(t, Options{})
	if calls != 2 {
		t.Errorf("ports picked %d times, want 2", calls)
	}
	if s.POP3Port == busy.Addr().(*net.TCPAddr).Port {
		t.Error("the busy port was kept")
	}
	if g := greeting(t, s.POP3Addr(), nil); !strings.HasPrefix(g, "+OK") {
		t.Errorf("POP3 greeting %q", g)
	}
}

// greeting returns the first line the server sends on addr (the real
// greeting, after Dovecot's "Waiting for authentication" notice).
func greeting(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("%s: TLS handshake: %v", addr, err)
		}
		conn = tc
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: greeting: %v", addr, err)
		}
		if !strings.HasPrefix(line, "* OK Waiting for authentication") {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func TestSeedCountFetch(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	msgs := Generate(11, 100)
	// Two calls: UIDs continue in slice order across them.
	if err := s.Seed("alice", "INBOX", msgs[:60]); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed("alice", "INBOX", msgs[60:]); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count("alice", "INBOX"); err != nil || n != 100 {
		t.Fatalf("Count = %d, %v; want 100", n, err)
	}

	got, err := s.FetchRaw("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("FetchRaw: %d messages, want %d", len(got), len(msgs))
	}
	for i, m := range msgs {
		uid := uint32(i + 1)
		if want := CRLF(m.Raw); !bytes.Equal(got[uid], want) {
			t.Errorf("UID %d: %d bytes differ from CRLF(Raw) of message %d (%d bytes); first difference at %d",
				uid, len(got[uid]), i, len(want), firstDiff(got[uid], want))
		}
	}

	flags, err := s.Flags("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if got, want := flags[uint32(i+1)], imapFlags(m.Flags); !slices.Equal(got, want) {
			t.Errorf("UID %d: flags %q, want %q (Maildir %q)", i+1, got, want, m.Flags)
		}
	}

	if _, err := os.Stat(filepath.Join(s.MaildirPath("alice"), "maildirfolder")); err == nil {
		t.Error("the Maildir root has a maildirfolder marker (a Maildir++ subfolder's)")
	}
	if err := s.CreateMailbox("alice", "INBOX"); err == nil {
		t.Error("CreateMailbox(INBOX) succeeded")
	}

	// The files are the mail user's, as a real delivery leaves them.
	if os.Geteuid() == 0 {
		entries, _ := filepath.Glob(filepath.Join(s.MaildirPath("alice"), "cur", "*"))
		for _, e := range entries[:3] {
			if owner := fileOwnerUID(t, e); owner != 65534 {
				t.Errorf("%s: owner %d, want 65534", e, owner)
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for k := range min(len(a), len(b)) {
		if a[k] != b[k] {
			return k
		}
	}
	return min(len(a), len(b))
}

// imapFlags maps Maildir letters to the IMAP flags Dovecot reports, in
// Dovecot's order.
func imapFlags(letters string) []string {
	out := []string{}
	for _, f := range []struct {
		letter byte
		flag   string
	}{{'R', `\Answered`}, {'F', `\Flagged`}, {'T', `\Deleted`}, {'S', `\Seen`}, {'D', `\Draft`}} {
		if strings.IndexByte(letters, f.letter) >= 0 {
			out = append(out, f.flag)
		}
	}
	return out
}

// TestPOP3MatchesIMAP: a POP3 client receives, after dot-unstuffing,
// exactly the bytes FetchRaw returns; the UIDLs follow
// pop3_uidl_format = %08Xu%08Xv.
func TestPOP3MatchesIMAP(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	msgs := Generate(5, 40)
	// Make sure the dot cases are there whatever the generator draws.
	msgs = append(msgs,
		Message{Raw: []byte("Subject: dots\n\n.\n..\n.x\nend\n.\n")},
		Message{Raw: []byte("Subject: crlf already\r\n\r\nbody\r\n.\r\n")},
	)
	if err := s.Seed("alice", "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	viaIMAP, err := s.FetchRaw("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	validity, err := s.UIDValidity("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	p := dialPOP3(t, s.POP3Addr())
	p.cmd("USER alice")
	p.cmd("PASS secret")
	uidls := p.multi("UIDL")
	if len(uidls) != len(msgs) {
		t.Fatalf("UIDL: %d lines, want %d", len(uidls), len(msgs))
	}
	for k, line := range uidls {
		// Dovecot's %X is lower-case hex.
		want := fmt.Sprintf("%d %08x%08x", k+1, k+1, validity)
		if string(line) != want {
			t.Errorf("UIDL line %q, want %q", line, want)
		}
	}
	for n := 1; n <= len(msgs); n++ {
		lines := p.multi("RETR " + strconv.Itoa(n))
		var body []byte
		for _, l := range lines {
			body = append(append(body, l...), "\r\n"...)
		}
		if !bytes.Equal(body, viaIMAP[uint32(n)]) {
			t.Errorf("RETR %d: %d bytes, IMAP gave %d; first difference at %d", n, len(body), len(viaIMAP[uint32(n)]), firstDiff(body, viaIMAP[uint32(n)]))
		}
		if !bytes.Equal(body, CRLF(msgs[n-1].Raw)) {
			t.Errorf("RETR %d differs from CRLF(Raw)", n)
		}
	}
	p.cmd("RSET") // leave the messages unseen
	p.cmd("QUIT")
}

type pop3Conn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialPOP3(t *testing.T, addr string) *pop3Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	p := &pop3Conn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := p.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("POP3 greeting %q", g)
	}
	return p
}

func (p *pop3Conn) line() string {
	p.t.Helper()
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("POP3 read: %v", err)
	}
	if !strings.HasSuffix(l, "\r\n") {
		p.t.Fatalf("POP3 line without CRLF: %q", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (p *pop3Conn) cmd(c string) string {
	p.t.Helper()
	fmt.Fprintf(p.conn, "%s\r\n", c)
	l := p.line()
	if !strings.HasPrefix(l, "+OK") {
		verb, _, _ := strings.Cut(c, " ")
		p.t.Fatalf("POP3 %s: %q", verb, l)
	}
	return l
}

// multi runs a command with a multi-line answer and returns its lines,
// dot-unstuffed (RFC 1939 section 3).
func (p *pop3Conn) multi(c string) [][]byte {
	p.t.Helper()
	p.cmd(c)
	var lines [][]byte
	for {
		l := p.line()
		if l == "." {
			return lines
		}
		lines = append(lines, []byte(strings.TrimPrefix(l, ".")))
	}
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c, err := s.loginIMAP("alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var caps string
	if _, err := c.run("CAPABILITY", nil, func(r *imapResponse) error {
		caps += string(r.text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONDSTORE", "QRESYNC", "UIDPLUS", "LIST-STATUS", "IDLE", "MOVE", "ESEARCH"} {
		if !strings.Contains(caps, " "+want) {
			t.Errorf("post-login capabilities lack %s: %s", want, caps)
		}
	}

	p := dialPOP3(t, s.POP3Addr())
	capa := p.multi("CAPA")
	var sasl, pipelining bool
	for _, l := range capa {
		if string(l) == "SASL PLAIN LOGIN CRAM-MD5" {
			sasl = true
		}
		if string(l) == "PIPELINING" {
			pipelining = true
		}
	}
	if !sasl || !pipelining {
		t.Errorf("POP3 CAPA %q: want SASL PLAIN LOGIN CRAM-MD5 and PIPELINING", capa)
	}
	p.cmd("QUIT")

	// APOP: the greeting carries the timestamp.
	if g := greeting(t, s.POP3Addr(), nil); !strings.Contains(g, "<") {
		t.Errorf("POP3 greeting without an APOP timestamp: %q", g)
	}
}

func TestMailboxes(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []User{
		{Name: "alice", Password: "secret"},
		{Name: "bob", Password: "p@ss wörd", MailLocation: "maildir:~/Mail:LAYOUT=fs"},
	}})

	t.Run("dot under LAYOUT=fs", func(t *testing.T) {
		if err := s.CreateMailbox("bob", "a.b"); err != nil {
			t.Fatal(err)
		}
		if got := listIMAP(t, s, "bob"); !slices.Contains(got, "a.b") {
			t.Errorf("LIST %q lacks a.b", got)
		}
		path, err := s.MailboxPath("bob", "a.b")
		if err != nil || path != filepath.Join(s.MaildirPath("bob"), "a.b") {
			t.Errorf("MailboxPath = %q, %v", path, err)
		}
		// Maildir++ cannot have it: '.' is its separator on disk.
		if err := s.CreateMailbox("alice", "a.b"); err == nil {
			t.Error("Maildir++ user created a.b")
		}
	})

	t.Run("non-ASCII nested", func(t *testing.T) {
		for _, user := range []string{"alice", "bob"} {
			if err := s.CreateMailbox(user, "Entwürfe/Ünter"); err != nil {
				t.Fatal(err)
			}
			got := listIMAP(t, s, user)
			if !slices.Contains(got, "Entw&APw-rfe/&ANw-nter") {
				t.Errorf("%s: LIST %q lacks Entw&APw-rfe/&ANw-nter", user, got)
			}
			out, err := s.Doveadm("mailbox", "list", "-u", user)
			if err != nil || !strings.Contains(string(out), "Entwürfe/Ünter\n") {
				t.Errorf("%s: doveadm mailbox list: %q, %v", user, out, err)
			}
			msgs := Generate(2, 3)
			if err := s.Seed(user, "Entwürfe/Ünter", msgs); err != nil {
				t.Fatal(err)
			}
			raw, err := s.FetchRaw(user, "Entwürfe/Ünter")
			if err != nil || len(raw) != 3 || !bytes.Equal(raw[2], CRLF(msgs[1].Raw)) {
				t.Errorf("%s: FetchRaw: %d messages, %v", user, len(raw), err)
			}
		}
		path, err := s.MailboxPath("alice", "Entwürfe/Ünter")
		if want := filepath.Join(s.MaildirPath("alice"), ".Entw&APw-rfe.&ANw-nter"); err != nil || path != want {
			t.Errorf("MailboxPath = %q, %v; want %q", path, err, want)
		}
	})

	t.Run("seed creates, delete removes", func(t *testing.T) {
		if err := s.Seed("alice", "Archive/2024", Generate(4, 2)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Count("alice", "Archive/2024"); err != nil || n != 2 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		if err := s.DeleteMailbox("alice", "Archive/2024"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Count("alice", "Archive/2024"); err == nil {
			t.Error("Count of a deleted mailbox succeeded")
		}
		if err := s.DeleteMailbox("alice", "inbox"); err == nil {
			t.Error("DeleteMailbox(INBOX) succeeded")
		}
	})
}

// listIMAP returns the raw (modified UTF-7) names LIST "" "*" shows.
func listIMAP(t *testing.T, s *Server, user string) []string {
	t.Helper()
	c, err := s.loginIMAP(user)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var names []string
	_, err = c.run(`LIST "" "*"`, nil, func(r *imapResponse) error {
		// * LIST (\HasNoChildren) "/" "name" or name
		text := string(r.text)
		if !strings.HasPrefix(text, "* LIST ") {
			return nil
		}
		_, name, _ := strings.Cut(text, `) "/" `)
		if unq, err := strconv.Unquote(name); err == nil {
			name = unq
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestAppendAndChange(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	lf := []byte("From: a@example.org\nSubject: appended\n\nline\n.\nlast\n")
	crlf := []byte("From: a@example.org\r\nSubject: crlf\r\n\r\nbody\r\n")
	if err := s.Append("alice", "INBOX", lf, `\Seen`, `$Forwarded`); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("alice", "INBOX", crlf); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("alice", "Neu/Ordner", lf, `\Flagged`); err != nil {
		t.Fatalf("Append to a missing mailbox: %v", err)
	}
	raw, err := s.FetchRaw("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[1], CRLF(lf)) || !bytes.Equal(raw[2], crlf) {
		t.Errorf("FetchRaw after Append: %v", raw)
	}
	flags, err := s.Flags("alice", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if got := flags[1]; !slices.Equal(got, []string{`\Seen`, `$Forwarded`}) {
		t.Errorf("UID 1 flags %q", got)
	}
	if got := flags[2]; len(got) != 0 {
		t.Errorf("UID 2 flags %q, want none", got)
	}
	if n, err := s.Count("alice", "Neu/Ordner"); err != nil || n != 1 {
		t.Errorf("Count(Neu/Ordner) = %d, %v", n, err)
	}

	if err := s.SetFlags("alice", "INBOX", 2, `\Answered`, `\Seen`); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlags("alice", "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	flags, _ = s.Flags("alice", "INBOX")
	if !slices.Equal(flags[2], []string{`\Answered`, `\Seen`}) || len(flags[1]) != 0 {
		t.Errorf("flags after SetFlags: %v", flags)
	}
	if err := s.Append("alice", "INBOX", lf, "bad flag"); err == nil {
		t.Error("Append accepted the flag \"bad flag\"")
	}

	if err := s.Expunge("alice", "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count("alice", "INBOX"); n != 1 {
		t.Errorf("Count after Expunge = %d, want 1", n)
	}

	if err := s.SetUIDValidity("alice", "INBOX", 4242); err != nil {
		t.Fatal(err)
	}
	if v, err := s.UIDValidity("alice", "INBOX"); err != nil || v != 4242 {
		t.Errorf("UIDValidity = %d, %v; want 4242", v, err)
	}
	if n, _ := s.Count("alice", "INBOX"); n != 1 {
		t.Errorf("Count after SetUIDValidity = %d, want 1", n)
	}
}

func TestBadOptions(t *testing.T) {
	for _, u := range []User{
		{Name: "", Password: "x"},
		{Name: "a:b", Password: "x"},
		{Name: "alice", Password: "pa:ss"},
		{Name: "alice", Password: "line\nbreak"},
		{Name: "alice", Password: ""},
		{Name: "alice", Password: "x", MailLocation: "maildir:~/My Mail"},
	} {
		if _, err := checkUsers([]User{u}); err == nil {
			t.Errorf("checkUsers accepted %+v", u)
		}
	}
	if _, err := checkUsers([]User{{Name: "a", Password: "x"}, {Name: "a", Password: "y"}}); err == nil {
		t.Error("checkUsers accepted a user twice")
	}
}

// TestUnprivileged runs TestStartStop and TestSeedCountFetch again as
// nobody, the way a developer runs the suite: Dovecot then runs as the
// current user without chroots.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("DOVETEST_UNPRIVILEGED_CHILD") == "1" {
		t.Skip("already the unprivileged child")
	}
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("needs root to switch to nobody")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv")
	}
	if _, _, err := findBinaries(); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	// The test binary may sit in a directory nobody cannot enter: copy it.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // TMPDIR/TestUnprivilegedNNN/001
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dovetest.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin,
		"-test.run=^(TestStartStop|TestSeedCountFetch)$", "-test.v")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "DOVETEST_UNPRIVILEGED_CHILD=1", "TMPDIR="+tmp, "HOME="+tmp, RequireServerEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestSeedCountFetch")) || !bytes.Contains(out, []byte("--- PASS: TestStartStop")) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(tmp)
	if len(entries) > 0 {
		t.Errorf("the unprivileged run left %d entries in its TMPDIR", len(entries))
	}
}

// TestNamespaceAndCapability: a Courier-like namespace (prefix "INBOX.",
// separator ".") and an imap_capability without NAMESPACE, as the sync
// tests use them.
func TestNamespaceAndCapability(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{NamespacePrefix: "INBOX.", NamespaceSeparator: ".", IMAPCapability: "IMAP4rev1 LIST-STATUS"})
	if err := s.Seed("alice", "INBOX.Archive.2024", Generate(9, 2)); err != nil {
		t.Fatal(err)
	}
	c, err := s.loginIMAP("alice")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var lines []string
	collect := func(r *imapResponse) error {
		lines = append(lines, string(r.text))
		return nil
	}
	for _, cmd := range []string{"CAPABILITY", "NAMESPACE", `LIST "" "*"`} {
		if _, err := c.run(cmd, nil, collect); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"* CAPABILITY IMAP4rev1 LIST-STATUS", `* NAMESPACE (("INBOX." ".")) NIL NIL`, `"." INBOX.Archive.2024`} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "CAPABILITY IMAP4rev1 LIST-STATUS NAMESPACE") {
		t.Errorf("NAMESPACE still announced:\n%s", got)
	}
	if n, err := s.Count("alice", "INBOX.Archive.2024"); err != nil || n != 2 {
		t.Errorf("Count = %d, %v", n, err)
	}
	if _, err := StartServer(Options{NamespacePrefix: "x\"y"}); err == nil {
		t.Error("a prefix with a quote was accepted")
	}
}
