package maildir_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/maildir"
)

// A Maildir that this package wrote is what Dovecot reads: the folders
// (Maildir++, names in UTF-8 with Dovecot's UTF-8 option), every message
// byte for byte, the flags of the info, the received date (the mtime),
// new/ as \Recent, and the sizes of the file names. Then, the other way,
// the tree Dovecot has added its files to is still read here.

// dovecotFolder is one folder of the test Maildir and what goes into it.
type dovecotFolder struct {
	path []string // as Store.Folder takes it
	imap string   // its IMAP name, modified UTF-7
	msgs []dovecotMsg
}

type dovecotMsg struct {
	flags string // Maildir info letters
	cur   bool   // deliver into cur/ even without flags
}

// imapFlags maps Maildir's flag letters to IMAP's system flags.
var imapFlags = map[byte]string{'D': `\Draft`, 'F': `\Flagged`, 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}

func TestDovecotReadsOurMaildir(t *testing.T) {
	t.Parallel()
	// The tree must be reachable for Dovecot's mail processes (uid 65534
	// when we are root): not under t.TempDir(), which is 0700.
	base, err := os.MkdirTemp("", "maildir-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered before dovetest.Start: runs after the server stopped.
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "Maildir")

	folders := []dovecotFolder{
		{path: nil, imap: "INBOX", msgs: []dovecotMsg{
			{}, {}, {cur: true}, {flags: "S"}, {flags: "RS"}, {flags: "F"}, {flags: "D"}, {flags: "T"}, {flags: "FS"}, {flags: "DFRST"},
		}},
		{path: []string{"Work"}, imap: "Work", msgs: []dovecotMsg{{}, {flags: "S"}, {flags: "T"}, {cur: true}}},
		{path: []string{"Work", "Reports"}, imap: "Work/Reports", msgs: []dovecotMsg{{}, {flags: "RS"}}},
		// Non-ASCII: this package writes UTF-8 names, which Dovecot reads
		// with the UTF-8 option of mail_location (its default is modified
		// UTF-7 on disk).
		{path: []string{"Entwürfe"}, imap: "Entw&APw-rfe", msgs: []dovecotMsg{{flags: "D"}, {}}},
		{path: []string{"Entwürfe", "Über 2026"}, imap: "Entw&APw-rfe/&ANw-ber 2026", msgs: []dovecotMsg{{flags: "S"}}},
		// An empty folder is still a folder.
		{path: []string{"Empty"}, imap: "Empty"},
	}

	// Realistic messages (long lines, lines starting with "." and
	// "From ", 8-bit headers, MIME), a message with CRLF line ends, one
	// without a final newline, one with a NUL-free binary-ish body.
	n := 0
	for _, f := range folders {
		n += len(f.msgs)
	}
	raws := make([][]byte, 0, n)
	for _, m := range dovetest.Generate(42, n-3) {
		raws = append(raws, m.Raw)
	}
	raws = append(raws,
		[]byte("From: a@example.net\r\nSubject: CRLF\r\n\r\nline one\r\nline two\r\n"),
		[]byte("From: a@example.net\nSubject: no final newline\n\nthe end"),
		append([]byte("From: a@example.net\nSubject: 8 bit\nContent-Transfer-Encoding: 8bit\n\n"), bytes.Repeat([]byte("\x01\x7f\xc3\xa4\xff\tx\n"), 300)...),
	)

	store, err := maildir.Open(root, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// received dates, one per message: the file's mtime is INTERNALDATE.
	received := func(k int) time.Time {
		return time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Hour)
	}
	type sent struct {
		raw      []byte
		flags    string
		new      bool
		received time.Time
	}
	// want[imap name] is what each folder holds.
	want := map[string][]sent{}
	k := 0
	for _, f := range folders {
		folder, err := store.Folder(f.path)
		if err != nil {
			t.Fatal(err)
		}
		want[f.imap] = []sent{}
		for _, m := range f.msgs {
			st, err := folder.Deliver(ctx, bytes.NewReader(raws[k]), maildir.StageOptions{
				Flags: maildir.ParseFlags(m.flags), Cur: m.cur, ModTime: received(k), SizeHint: int64(len(raws[k])),
			})
			if err != nil {
				t.Fatal(err)
			}
			isNew := m.flags == "" && !m.cur
			if sub := filepath.Base(filepath.Dir(st.Path())); sub != map[bool]string{true: "new", false: "cur"}[isNew] {
				t.Fatalf("flags %q, cur %v: delivered into %s/", m.flags, m.cur, sub)
			}
			want[f.imap] = append(want[f.imap], sent{raws[k], m.flags, isNew, received(k)})
			k++
		}
	}
	layout := listTree(t, root)
	t.Logf("the Maildir as written:\n%s", layout)

	if os.Geteuid() == 0 {
		// Dovecot's mail processes run as 65534 and write their index
		// and uidlist files into the Maildir.
		if err := filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}); err != nil {
			t.Fatal(err)
		}
	}
	const user, password = "reader", "Secret-4711"
	srv := dovetest.Start(t, dovetest.Options{Users: []dovetest.User{
		{Name: user, Password: password, MailLocation: "maildir:" + root + ":UTF-8"},
	}})

	// Our own session comes first, so that it is the one that sees the
	// messages as \Recent.
	c := dialIMAP(t, srv, user, password)
	defer c.logout()

	// Every folder, and nothing else (Dovecot lists the subfolders'
	// parents, which all exist here).
	var listed []string
	for _, line := range c.run(t, `LIST "" "*"`) {
		m := listRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("LIST: unexpected line %q", line)
		}
		name, err := strconv.Unquote(m[2])
		if err != nil {
			name = m[2]
		}
		if m[1] != "/" {
			t.Errorf("LIST: separator %q for %s", m[1], name)
		}
		listed = append(listed, name)
	}
	var wantListed []string
	for _, f := range folders {
		wantListed = append(wantListed, f.imap)
	}
	slices.Sort(listed)
	slices.Sort(wantListed)
	if !slices.Equal(listed, wantListed) {
		t.Errorf("Dovecot lists %q, want %q", listed, wantListed)
	}

	for _, f := range folders {
		t.Run(decodeName(f.imap), func(t *testing.T) {
			msgs := want[f.imap]
			var exists, recent int = -1, -1
			for _, line := range c.run(t, "SELECT "+quote(f.imap)) {
				if m := countRE.FindStringSubmatch(line); m != nil {
					v, _ := strconv.Atoi(m[1])
					if m[2] == "EXISTS" {
						exists = v
					} else {
						recent = v
					}
				}
			}
			newCount := 0
			for _, m := range msgs {
				if m.new {
					newCount++
				}
			}
			if exists != len(msgs) {
				t.Errorf("SELECT: %d EXISTS, want %d", exists, len(msgs))
			}
			if recent < newCount {
				t.Errorf("SELECT: %d RECENT, want at least the %d in new/", recent, newCount)
			}
			if n, err := srv.Count(user, decodeName(f.imap)); err != nil || n != len(msgs) {
				t.Errorf("doveadm: %d messages (%v), want %d", n, err, len(msgs))
			}
			if len(msgs) == 0 {
				return
			}

			// The bodies, as any IMAP or POP3 client receives them.
			bodies, err := srv.FetchRaw(user, decodeName(f.imap))
			if err != nil {
				t.Fatal(err)
			}
			byUID := map[uint32]sent{}
			for uid, body := range bodies {
				i := slices.IndexFunc(msgs, func(m sent) bool { return bytes.Equal(dovetest.CRLF(m.raw), body) })
				if i < 0 {
					t.Errorf("UID %d is none of the delivered messages (%d bytes):\n%.300q", uid, len(body), body)
					continue
				}
				if _, dup := byUID[uid]; dup {
					t.Errorf("UID %d twice", uid)
				}
				byUID[uid] = msgs[i]
			}
			if len(byUID) != len(msgs) {
				t.Fatalf("Dovecot serves %d of the %d messages", len(byUID), len(msgs))
			}

			// Flags (with \Recent, which only our session sees), size and
			// received date.
			adm, err := srv.Flags(user, decodeName(f.imap))
			if err != nil {
				t.Fatal(err)
			}
			fetched := 0
			for _, line := range c.run(t, "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)") {
				m := fetchRE.FindStringSubmatch(line)
				if m == nil {
					t.Errorf("FETCH: unexpected line %q", line)
					continue
				}
				fetched++
				uid64, _ := strconv.ParseUint(m[1], 10, 32)
				uid := uint32(uid64)
				msg, ok := byUID[uid]
				if !ok {
					t.Errorf("FETCH: unknown UID %d", uid)
					continue
				}
				got := strings.Fields(m[2])
				var wantFlags []string
				for i := 0; i < len(msg.flags); i++ {
					wantFlags = append(wantFlags, imapFlags[msg.flags[i]])
				}
				system := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == `\Recent` })
				slices.Sort(system)
				slices.Sort(wantFlags)
				if !slices.Equal(system, wantFlags) {
					t.Errorf("UID %d (info %q): flags %q, want %q", uid, msg.flags, got, wantFlags)
				}
				admFlags := slices.Clone(adm[uid])
				slices.Sort(admFlags)
				if !slices.Equal(admFlags, wantFlags) {
					t.Errorf("UID %d (info %q): doveadm says flags %q, want %q", uid, msg.flags, adm[uid], wantFlags)
				}
				if msg.new && !slices.Contains(got, `\Recent`) {
					t.Errorf("UID %d: delivered into new/ but not \\Recent: %q", uid, got)
				}
				if size, _ := strconv.Atoi(m[3]); size != len(dovetest.CRLF(msg.raw)) {
					t.Errorf("UID %d: RFC822.SIZE %d, want %d", uid, size, len(dovetest.CRLF(msg.raw)))
				}
				date, err := time.Parse("02-Jan-2006 15:04:05 -0700", m[4])
				if err != nil || !date.Equal(msg.received) {
					t.Errorf("UID %d: INTERNALDATE %q (%v), want %v", uid, m[4], err, msg.received)
				}
			}
			if fetched != len(msgs) {
				t.Errorf("FETCH: %d messages, want %d", fetched, len(msgs))
			}
			// \Seen and unseen as the folder's status counts them.
			unseen := 0
			for _, m := range msgs {
				if !strings.Contains(m.flags, "S") {
					unseen++
				}
			}
			status := c.run(t, "STATUS "+quote(f.imap)+" (MESSAGES UNSEEN)")
			if len(status) != 1 || !strings.Contains(status[0], fmt.Sprintf("(MESSAGES %d UNSEEN %d)", len(msgs), unseen)) {
				t.Errorf("STATUS: %q, want %d messages, %d unseen", status, len(msgs), unseen)
			}
		})
	}
	c.logout()

	// Dovecot found nothing to complain about: no size mismatch with the
	// ",S=" of a name, no broken name, no rename of our files.
	logData, err := os.ReadFile(srv.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(logData), "\n") {
		if strings.Contains(line, "Error:") || strings.Contains(line, "Warning:") || strings.Contains(line, "Panic:") || strings.Contains(line, "Fatal:") {
			t.Errorf("Dovecot's log: %s", line)
		}
	}

	// The other way: Dovecot moved the new/ messages into cur/ and added
	// its uidlist, index and subscription files; this package still reads
	// every folder and message.
	t.Logf("the Maildir after Dovecot:\n%s", listTree(t, root))
	again, err := maildir.Open(root, maildir.LayoutMaildirPP)
	if err != nil {
		t.Fatal(err)
	}
	names, err := again.Folders()
	if err != nil {
		t.Fatal(err)
	}
	var wantNames [][]string
	for _, f := range folders {
		if f.path == nil {
			wantNames = append(wantNames, []string{"INBOX"})
		} else {
			wantNames = append(wantNames, f.path)
		}
	}
	sortPaths := func(p [][]string) { slices.SortFunc(p, func(a, b []string) int { return slices.Compare(a, b) }) }
	sortPaths(names)
	sortPaths(wantNames)
	if !slices.EqualFunc(names, wantNames, slices.Equal) {
		t.Errorf("Folders after Dovecot: %q, want %q", names, wantNames)
	}
	for _, f := range folders {
		folder, err := again.Folder(f.path)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := folder.Scan()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(f.msgs) {
			t.Errorf("%s: Scan finds %d messages after Dovecot, want %d", f.imap, len(entries), len(f.msgs))
		}
		for _, e := range entries {
			data, err := os.ReadFile(e.Path)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(want[f.imap], func(m sent) bool { return bytes.Equal(m.raw, data) })
			if i < 0 {
				t.Errorf("%s: %s changed", f.imap, e.Path)
				continue
			}
			// Reading (with PEEK) and selecting changed no flag.
			if e.Flags != maildir.ParseFlags(want[f.imap][i].flags) {
				t.Errorf("%s: %s has flags %q after Dovecot, want %q", f.imap, e.Path, e.Flags, want[f.imap][i].flags)
			}
		}
	}
}

var (
	listRE  = regexp.MustCompile(`^\* LIST \([^)]*\) "(.)" (.+)$`)
	countRE = regexp.MustCompile(`^\* (\d+) (EXISTS|RECENT)$`)
	fetchRE = regexp.MustCompile(`^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) RFC822\.SIZE (\d+) INTERNALDATE "([^"]+)"\)$`)
)

// decodeName turns the few modified UTF-7 names of this test into UTF-8,
// as doveadm takes them.
func decodeName(s string) string {
	return strings.NewReplacer("&APw-", "ü", "&ANw-", "Ü").Replace(s)
}

func quote(s string) string { return strconv.Quote(s) }

// listTree shows the files under root, for the log.
func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		fmt.Fprintf(&b, "  %s\n", rel)
		return nil
	})
	return b.String()
}

// imapClient is a minimal IMAP client over implicit TLS, verified with
// the server's CA file: commands without literals, responses of one line.
type imapClient struct {
	conn *tls.Conn
	r    *bufio.Reader
	tag  int
	done bool
}

func dialIMAP(t *testing.T, srv *dovetest.Server, user, password string) *imapClient {
	t.Helper()
	cfg, err := srv.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", srv.IMAPSAddr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &imapClient{conn: conn, r: bufio.NewReader(conn)}
	for {
		line := c.readLine(t)
		if strings.HasPrefix(line, "* OK Waiting for authentication") {
			continue
		}
		if !strings.HasPrefix(line, "* OK") {
			t.Fatalf("IMAP greeting %q", line)
		}
		break
	}
	c.run(t, "LOGIN "+quote(user)+" "+quote(password))
	return c
}

func (c *imapClient) readLine(t *testing.T) string {
	t.Helper()
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("IMAP: %v", err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasSuffix(line, "}") {
		t.Fatalf("IMAP: a literal, which this client does not read: %q", line)
	}
	return line
}

// run sends cmd and returns the untagged responses, other than the
// capability and status lines every command may bring; it fails the test
// unless the command completes OK.
func (c *imapClient) run(t *testing.T, cmd string) []string {
	t.Helper()
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd); err != nil {
		t.Fatalf("IMAP %s: %v", strings.Fields(cmd)[0], err)
	}
	var untagged []string
	for {
		line := c.readLine(t)
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				t.Fatalf("IMAP %s: %s", strings.Fields(cmd)[0], rest)
			}
			return untagged
		}
		if strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "* FLAGS") || strings.HasPrefix(line, "* CAPABILITY") {
			continue
		}
		untagged = append(untagged, line)
	}
}

func (c *imapClient) logout() {
	if c.done {
		return
	}
	c.done = true
	fmt.Fprintf(c.conn, "z LOGOUT\r\n")
	c.conn.Close()
}
