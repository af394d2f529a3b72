package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/pelletier/go-toml/v2"
)

func TestCountMaildir(t *testing.T) {
	root := t.TempDir()
	files := []string{
		"new/1.a.host",
		"cur/2.b.host:2,S",
		"cur/3.c.host:2,FS",
		"tmp/4.d.host",                  // not delivered
		".Folder01/cur/5.e.host:2,F",    // Maildir++ folder
		".Folder01/maildirfolder",       // a marker, not a message
		"INBOX/new/6.f.host",            // offlineimap's layout
		".mbsyncstate",                  // a tool's own file
		".Folder01/cur/7.g.host,U=7:2,", // mbsync's name
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := countMaildir(root)
	if err != nil {
		t.Fatal(err)
	}
	want := maildirCount{messages: 6, folders: 3, flagged: 2}
	if got != want {
		t.Fatalf("countMaildir = %+v, want %+v", got, want)
	}
	if err := got.check(expectation{messages: 6, folders: 3, flagged: 2}); err != nil {
		t.Error(err)
	}
	if err := got.check(expectation{messages: 6, folders: 3, flagged: -1}); err != nil {
		t.Errorf("flagged -1 must not be checked: %v", err)
	}
	for _, bad := range []expectation{{7, 3, 2}, {6, 2, 2}, {6, 3, 3}} {
		if got.check(bad) == nil {
			t.Errorf("check(%+v) passed, want an error", bad)
		}
	}
}

func TestStatOf(t *testing.T) {
	wall := func(s sample) float64 { return s.Wall }
	for _, c := range []struct {
		in  []float64
		med float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		var s []sample
		for _, v := range c.in {
			s = append(s, sample{Wall: v})
		}
		st := statOf(s, wall)
		if st.med != c.med || st.lo != slices.Min(c.in) || st.hi != slices.Max(c.in) {
			t.Errorf("statOf(%v) = %+v, want median %v", c.in, st, c.med)
		}
	}
}

func TestShare(t *testing.T) {
	sum := 0
	for i := range 7 {
		sum += share(100, 7, i)
	}
	if sum != 100 || share(100, 10, 0) != 10 {
		t.Errorf("share does not split 100 evenly: sum %d", sum)
	}
}

func TestBigMessage(t *testing.T) {
	const size = 1 << 20
	m := bigMessage(size)
	if len(m) > size || len(m) < size-100 {
		t.Errorf("bigMessage(%d) is %d bytes", size, len(m))
	}
	if !bytes.HasSuffix(m, []byte("--peerbench-big--\n")) || bytes.Contains(m, []byte("\r")) {
		t.Error("bigMessage: wrong end or CR in an LF message")
	}
	for _, line := range bytes.Split(m, []byte("\n")) {
		if len(line) > 998 {
			t.Fatalf("line of %d bytes", len(line))
		}
	}
	if !bytes.Equal(m, bigMessage(size)) {
		t.Error("bigMessage is not deterministic")
	}
}

func TestPlanMeasuresSharedCellsOnce(t *testing.T) {
	o, err := parseFlags([]string{"-n", "100", "-n-small", "50", "-runs", "3", "-slow-runs", "1"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o}
	b.plan()
	c := b.findCell("pop3", "pop50", 0, "mailfetch")
	if c == nil {
		t.Fatal("no direct POP3 cell of mailfetch on the small mailbox")
	}
	if !slices.Equal(c.scenarios, []string{"pop3", "pop3-rtt"}) {
		t.Errorf("scenarios %q, want pop3 and pop3-rtt", c.scenarios)
	}
	n := 0
	for _, have := range b.cells {
		if have.proto == "pop3" && have.box.user == "pop50" && have.delay == 0 && have.tool.name == "mailfetch" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d such cells, want 1", n)
	}
	if g := b.findCell("pop3", "pop50", o.oneWay, "getmail"); g == nil || g.runs != 1 {
		t.Errorf("getmail over the proxy: %+v, want a cell with -slow-runs runs", g)
	}
	im := b.findCell("imap", "imap100", 0, "mbsync")
	if im == nil || !slices.Equal(im.phases, []string{phaseInitial, phaseNoChange, phaseChanged}) {
		t.Errorf("mbsync imap cell %+v, want the three IMAP phases", im)
	}
	if rtt := b.findCell("imap", "imap50", 25*time.Millisecond, "mailfetch"); rtt == nil || len(rtt.phases) != 2 {
		t.Errorf("imap-rtt cell %+v, want initial and no-change", rtt)
	}
	for _, m := range b.boxes {
		if m.user == "big" && m.bigBytes != 200<<20 {
			t.Errorf("big mailbox of %d bytes", m.bigBytes)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "pop4"}, {"-tools", "thunderbird"}, {"-runs", "0"}, {"-n", "5"}, {"-only", ""}, {"extra"},
		{"-fast-runs", "0"}, {"-rss-sizes", "0"}, {"-rss-sizes", "1000,x"}, {"-accounts", "0x500"}, {"-accounts", "20"},
		{"-accounts", "100x5"}, {"-many-folders", "100x0"}, {"-many-folders", "100y100"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
}

// accountsJob is the job of an accounts-scenario run in a fresh run
// directory, as runCell makes it.
func accountsJob(t *testing.T, proto string, n int, deleteMode bool) (*bench, *runDir, job) {
	t.Helper()
	o, err := parseFlags([]string{"-accounts", fmt.Sprintf("%dx500", n), "-mailfetch-flags", "--account-jobs 8"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o, mailfetch: "/bin/mailfetch"}
	b.server = &dovetest.Server{Host: "127.0.0.1", POP3Port: 1110, IMAPPort: 1143}
	d, err := newRunDir(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	box := b.accountsBox(proto, n, 500)
	box.deleteMode = deleteMode
	j, err := b.job(&cell{proto: proto, box: box}, d)
	if err != nil {
		t.Fatal(err)
	}
	return b, d, j
}

// checkDistinct fails unless every value of what is different and each
// lies under root.
func checkDistinct(t *testing.T, what string, values []string, root string) {
	t.Helper()
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			t.Errorf("%s %q given to two accounts", what, v)
		}
		seen[v] = true
		if root != "" && !strings.HasPrefix(v, root+"/") {
			t.Errorf("%s %q is not under %s", what, v, root)
		}
	}
}

func TestMailfetchConfigTwentyAccounts(t *testing.T) {
	for _, tc := range []struct {
		proto      string
		deleteMode bool
		keep       any
		command    []string
	}{
		{"imap", false, nil, []string{"imap", "sync"}},
		{"pop3", false, true, []string{"pop3"}},
		{"pop3", true, false, []string{"pop3"}},
	} {
		b, d, j := accountsJob(t, tc.proto, 20, tc.deleteMode)
		var argv []string
		if tc.proto == "imap" {
			argv = mailfetchIMAP(b, d, j)
		} else {
			argv = mailfetchPOP3(b, d, j)
		}
		// One invocation for every account, the extra flags after the
		// command, where mailfetch takes account and run flags alike.
		want := append(append([]string{"/bin/mailfetch", "--config", filepath.Join(d.home, "mailfetch.toml"), "--quiet"}, tc.command...), "--account-jobs", "8")
		if !slices.Equal(argv, want) {
			t.Errorf("%s: argv %q, want %q", tc.proto, argv, want)
		}
		data, err := os.ReadFile(filepath.Join(d.home, "mailfetch.toml"))
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			Account map[string]map[string]any `toml:"account"`
		}
		if err := toml.Unmarshal(data, &conf); err != nil {
			t.Fatalf("%s: the config is not TOML: %v\n%s", tc.proto, err, data)
		}
		if len(conf.Account) != 20 {
			t.Fatalf("%s: %d accounts, want 20", tc.proto, len(conf.Account))
		}
		var users, maildirs, states []string
		for k := 1; k <= 20; k++ {
			name := fmt.Sprintf("a%02d", k)
			a, ok := conf.Account[name]
			if !ok {
				t.Fatalf("%s: no account %s", tc.proto, name)
			}
			if a["protocol"] != tc.proto || a["tls"] != "none" || a["allow-plaintext"] != true || a["keep"] != tc.keep {
				t.Errorf("%s: account %s: %v", tc.proto, name, a)
			}
			if u := fmt.Sprintf("acct-%s-20x500-%02d", tc.proto, k); a["user"] != u {
				t.Errorf("%s: account %s logs in as %v, want its own server user %s", tc.proto, name, a["user"], u)
			}
			users = append(users, a["user"].(string))
			maildirs = append(maildirs, a["maildir"].(string))
			states = append(states, a["state-dir"].(string))
		}
		checkDistinct(t, "user", users, "")
		checkDistinct(t, "maildir", maildirs, d.maildir)
		checkDistinct(t, "state-dir", states, d.state)
	}
}

// blocks splits a config at lines starting with key, keyed by the
// rest of that line.
func blocks(text, key string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, key+" "); ok {
			name = rest
		}
		if name != "" {
			out[name] += line + "\n"
		}
	}
	return out
}

func field(block, key string) string {
	for _, line := range strings.Split(block, "\n") {
		if rest, ok := strings.CutPrefix(line, key+" "); ok {
			return rest
		}
	}
	return ""
}

func TestMbsyncConfigTwentyAccounts(t *testing.T) {
	b, d, j := accountsJob(t, "imap", 20, false)
	argv := mbsyncIMAP(b, d, j)
	if want := []string{"mbsync", "-c", filepath.Join(d.home, "mbsyncrc"), "-q", "-a"}; !slices.Equal(argv, want) {
		t.Errorf("argv %q, want %q", argv, want)
	}
	data, err := os.ReadFile(filepath.Join(d.home, "mbsyncrc"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	accounts, channels := blocks(text, "IMAPAccount"), blocks(text, "Channel")
	if len(accounts) != 20 || len(channels) != 20 {
		t.Fatalf("%d IMAPAccounts and %d Channels, want 20 each:\n%s", len(accounts), len(channels), text)
	}
	var users, inboxes, states []string
	for k := 1; k <= 20; k++ {
		name := fmt.Sprintf("a%02d", k)
		acc, ch := accounts[name], channels[name]
		if u := fmt.Sprintf("acct-imap-20x500-%02d", k); field(acc, "User") != u {
			t.Errorf("IMAPAccount %s logs in as %q, want %s", name, field(acc, "User"), u)
		}
		// Each channel pulls from its own account into its own Maildir.
		if field(ch, "Far") != ":"+name+"-remote:" || field(ch, "Near") != ":"+name+"-local:" || field(ch, "Sync") != "Pull" {
			t.Errorf("Channel %s:\n%s", name, ch)
		}
		if !strings.Contains(text, "IMAPStore "+name+"-remote\nAccount "+name+"\n") {
			t.Errorf("no IMAPStore %s-remote on account %s", name, name)
		}
		store := blocks(text, "MaildirStore")[name+"-local"]
		users = append(users, field(acc, "User"))
		inboxes = append(inboxes, field(store, "Inbox"))
		states = append(states, field(ch, "SyncState"))
	}
	checkDistinct(t, "User", users, "")
	checkDistinct(t, "Inbox", inboxes, d.maildir)
	checkDistinct(t, "SyncState", states, d.state)
}

func TestMpopConfigTwentyAccounts(t *testing.T) {
	for _, deleteMode := range []bool{false, true} {
		b, d, j := accountsJob(t, "pop3", 20, deleteMode)
		argv := mpopPOP3(b, d, j)
		conf := filepath.Join(d.home, "mpoprc")
		if want := []string{"mpop", "-C", conf, "-q", "-a"}; !slices.Equal(argv, want) {
			t.Errorf("argv %q, want %q", argv, want)
		}
		data, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		accounts := blocks(string(data), "account")
		if len(accounts) != 20 {
			t.Fatalf("%d accounts, want 20", len(accounts))
		}
		keep := "on"
		if deleteMode {
			keep = "off"
		}
		var users, maildirs, uidls []string
		for k := 1; k <= 20; k++ {
			a := accounts[fmt.Sprintf("a%02d", k)]
			if u := fmt.Sprintf("acct-pop3-20x500-%02d", k); field(a, "user") != u {
				t.Errorf("account a%02d logs in as %q, want %s", k, field(a, "user"), u)
			}
			if field(a, "keep") != keep || field(a, "only_new") != "on" {
				t.Errorf("account a%02d: keep %q only_new %q, want keep %s", k, field(a, "keep"), field(a, "only_new"), keep)
			}
			users = append(users, field(a, "user"))
			maildirs = append(maildirs, strings.TrimPrefix(field(a, "delivery"), "maildir "))
			uidls = append(uidls, field(a, "uidls_file"))
		}
		checkDistinct(t, "user", users, "")
		checkDistinct(t, "maildir", maildirs, d.maildir)
		checkDistinct(t, "uidls_file", uidls, d.state)
		// mpop itself reads the file the same way, where it is installed.
		if _, err := exec.LookPath("mpop"); err == nil {
			out, err := exec.Command("mpop", "-C", conf, "--pretend", "-a").CombinedOutput()
			if err != nil {
				t.Fatalf("mpop --pretend -a: %v\n%s", err, out)
			}
			if got := strings.Count(string(out), "using account a"); got != 20 {
				t.Errorf("mpop --pretend -a shows %d accounts, want 20:\n%s", got, out)
			}
		}
	}
}

func TestSingleAccountJobKeepsItsLayout(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o, mailfetch: "/bin/mailfetch", server: &dovetest.Server{Host: "127.0.0.1", IMAPPort: 1143}}
	d, err := newRunDir(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := b.job(&cell{proto: "imap", box: b.imapBox(100)}, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.accounts) != 1 || j.accounts[0].maildir != d.maildir || j.accounts[0].state != d.state || j.accounts[0].ep.user != "imap100" {
		t.Fatalf("single-account job %+v", j.accounts)
	}
	if argv := mbsyncIMAP(b, d, j); argv[len(argv)-1] != "bench" {
		t.Errorf("mbsync argv %q, want the one channel by name", argv)
	}
	if argv := mailfetchIMAP(b, d, j); slices.Contains(argv, "--account-jobs") {
		t.Errorf("mailfetch argv %q without -mailfetch-flags", argv)
	}
}

func TestVerifyEachAccount(t *testing.T) {
	root := t.TempDir()
	box := &mailbox{user: "acct-imap-2x2", accounts: 2, folders: []string{"INBOX"}, perFolder: 2}
	j := job{}
	want := map[string]expectation{}
	for k, u := range box.serverUsers() {
		a := account{name: fmt.Sprintf("a%02d", k+1), maildir: filepath.Join(root, fmt.Sprintf("a%02d", k+1))}
		for i := range 2 {
			p := filepath.Join(a.maildir, "cur", fmt.Sprintf("%d.x:2,S", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		j.accounts = append(j.accounts, a)
		want[u] = expectation{messages: 2, folders: 1, flagged: 0}
	}
	b := &bench{}
	c := &cell{proto: "imap", box: box}
	if err := b.verify(c, j, want); err != nil {
		t.Fatal(err)
	}
	// Four messages in all, but the second account got one too few and
	// the first one too many: a total would not see it.
	if err := os.Rename(filepath.Join(root, "a02/cur/1.x:2,S"), filepath.Join(root, "a01/cur/9.x:2,S")); err != nil {
		t.Fatal(err)
	}
	err := b.verify(c, j, want)
	if err == nil || !strings.Contains(err.Error(), "account a01 (acct-imap-2x2-01)") {
		t.Errorf("verify = %v, want the first account named", err)
	}
}

func TestFolderNames(t *testing.T) {
	ten := folderNames(10)
	if len(ten) != 10 || ten[0] != "INBOX" || ten[1] != "Folder01" || ten[9] != "Folder09" {
		t.Errorf("folderNames(10) = %q", ten)
	}
	hundred := folderNames(100)
	if len(hundred) != 100 || hundred[1] != "Folder01" || hundred[99] != "Folder99" || folderNames(1000)[999] != "Folder999" {
		t.Errorf("folderNames(100) = %q…", hundred[:3])
	}
	if one := folderNames(1); !slices.Equal(one, []string{"INBOX"}) {
		t.Errorf("folderNames(1) = %q", one)
	}
}

func TestPlanIssue10Scenarios(t *testing.T) {
	o, err := parseFlags([]string{"-targets", "-rss-sizes", "40000,1000,100000,10000,1000"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.rssSizes, []int{1000, 10000, 40000, 100000}) {
		t.Errorf("rss sizes %v", o.rssSizes)
	}
	if len(o.tools) != 3 || !o.tools["mailfetch"] || !o.tools["mbsync"] || !o.tools["mpop"] {
		t.Errorf("-targets tools %v, want mailfetch, mbsync, mpop", o.tools)
	}
	if o.resyncRepeats() != 4 {
		t.Errorf("re-sync repeats %d, want 4 (3 runs, at least 10 samples)", o.resyncRepeats())
	}
	b := &bench{opt: o}
	b.plan()
	for _, c := range b.cells {
		if c.tool.slow {
			t.Errorf("-targets planned the slow peer %s", c.tool.name)
		}
	}
	for _, want := range []struct {
		proto, user, tool string
		phases            []string
	}{
		{"pop3", "pop10000", "mailfetch", []string{phaseFetch, phaseNoChange}},
		{"pop3", "popdel10000", "mpop", []string{phaseFetch}},
		{"imap", "imap10000", "mbsync", []string{phaseInitial, phaseNoChange, phaseChanged}},
		{"imap", "imap1x1000", "mailfetch", []string{phaseInitial, phaseNoChange}}, // imap-onefolder and imap-rss
		{"imap", "imap1x100000", "mbsync", []string{phaseInitial}},
		{"imap", "imap100x100", "mailfetch", []string{phaseInitial, phaseNoChange}},
		{"imap", "acct-imap-20x500", "mbsync", []string{phaseInitial, phaseNoChange}},
		{"pop3", "acct-pop3-20x500", "mpop", []string{phaseFetch, phaseNoChange}},
	} {
		c := b.findCell(want.proto, want.user, 0, want.tool)
		if c == nil {
			t.Errorf("no %s %s cell of %s", want.proto, want.user, want.tool)
			continue
		}
		if !slices.Equal(c.phases, want.phases) || c.repeats != 4 {
			t.Errorf("%s %s %s: phases %q repeats %d, want %q and 4", want.proto, want.user, want.tool, c.phases, c.repeats, want.phases)
		}
	}
	acc := b.findCell("imap", "acct-imap-20x500", 0, "mailfetch").box
	if users := acc.serverUsers(); len(users) != 20 || users[0] != "acct-imap-20x500-01" || users[19] != "acct-imap-20x500-20" || acc.total() != 10000 {
		t.Errorf("accounts mailbox: users %q, %d messages", users, acc.total())
	}
	if pop := b.findCell("pop3", "acct-pop3-20x500", 0, "mailfetch").box; pop == acc {
		t.Error("POP3 and IMAP accounts share server users (POP3 sets \\Seen)")
	}
	if many := b.findCell("imap", "imap100x100", 0, "mbsync").box; len(many.folders) != 100 || many.perFolder != 100 {
		t.Errorf("imap-folders mailbox: %d folders of %d", len(many.folders), many.perFolder)
	}
	// -only still narrows -targets.
	o, err = parseFlags([]string{"-targets", "-only", "pop3-delete"})
	if err != nil {
		t.Fatal(err)
	}
	b = &bench{opt: o}
	b.plan()
	if len(b.cells) != 2 || len(b.boxes) != 1 || !b.boxes[0].deleteMode {
		t.Errorf("-targets -only pop3-delete: %d cells, boxes %+v", len(b.cells), b.boxes)
	}
}

func TestFastGroups(t *testing.T) {
	o, err := parseFlags([]string{"-runs", "3", "-fast-runs", "10", "-n-small", "100"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o}
	b.plan()
	m := b.popBox(100)
	set := func(tool string, delay time.Duration, wall float64) {
		c := b.findCell("pop3", "pop100", delay, tool)
		c.samples[phaseFetch] = []sample{{Wall: wall}, {Wall: wall}, {Wall: wall}}
	}
	// Direct: mailfetch is sub-second, mpop is not; both get more runs.
	// Through the proxy neither is, so neither does; the slow peers never.
	set("mailfetch", 0, 0.4)
	set("mpop", 0, 1.2)
	set("getmail", 0, 0.5)
	set("mailfetch", o.oneWay, 1.1)
	set("mpop", o.oneWay, 1.9)
	var got []string
	for _, c := range b.fastGroups(m) {
		got = append(got, fmt.Sprintf("%s/%v", c.tool.name, c.delay))
	}
	if want := []string{"mailfetch/0s", "mpop/0s"}; !slices.Equal(got, want) {
		t.Errorf("fastGroups = %q, want %q", got, want)
	}
}

// issueBench is a bench whose cells hold made-up samples for issue 10's
// table, as a -targets run at the default sizes would.
func issueBench(t *testing.T, args ...string) *bench {
	t.Helper()
	o, err := parseFlags(append([]string{"-targets"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o}
	b.plan()
	return b
}

func setWall(t *testing.T, b *bench, proto, user string, delay time.Duration, tool, phase string, walls ...float64) {
	t.Helper()
	c := b.findCell(proto, user, delay, tool)
	if c == nil {
		t.Fatalf("no cell %s %s %s", proto, user, tool)
	}
	for _, w := range walls {
		c.samples[phase] = append(c.samples[phase], sample{Wall: w, RSSMB: 10, Load1: 1})
	}
}

func setRSS(t *testing.T, b *bench, n int, tool string, rss float64) {
	t.Helper()
	c := b.findCell("imap", foldersUser(1, n), 0, tool)
	c.samples[phaseInitial] = append(c.samples[phaseInitial], sample{Wall: 1, RSSMB: rss, Load1: 2})
}

func TestIssueTable(t *testing.T) {
	// All of -targets but pop3-nonew: the POP3 10,000 cells have no
	// no-change phase.
	b := issueBench(t, "-rss-sizes", "1000,40000", "-only", strings.Join(slices.DeleteFunc(slices.Clone(scenarioNames), func(s string) bool { return s == "pop3-nonew" }), ","))
	if rows := b.issueRows(); rows != nil {
		t.Errorf("nothing measured, but %d rows", len(rows))
	}
	// Median of three: 0.4 / 0.5 = 0.8 > 0.7.
	setWall(t, b, "imap", "imap10000", 0, "mailfetch", phaseChanged, 0.4, 0.3, 0.9)
	setWall(t, b, "imap", "imap10000", 0, "mbsync", phaseChanged, 0.5, 0.5, 0.5)
	// 1.2 / 4 = 0.3 ≤ 0.35.
	setWall(t, b, "pop3", "popdel10000", 0, "mailfetch", phaseFetch, 1.2)
	setWall(t, b, "pop3", "popdel10000", 0, "mpop", phaseFetch, 4)
	// 20 accounts, nothing new: 0.16 / 0.08 = 2, exactly the bound.
	setWall(t, b, "imap", "acct-imap-20x500", 0, "mailfetch", phaseNoChange, 0.16)
	setWall(t, b, "imap", "acct-imap-20x500", 0, "mbsync", phaseNoChange, 0.08)
	setRSS(t, b, 1000, "mailfetch", 16)
	setRSS(t, b, 40000, "mailfetch", 24)
	setRSS(t, b, 40000, "mbsync", 60)

	rows := b.issueRows()
	if len(rows) != 10 {
		t.Fatalf("%d rows, want the issue's 10 (the 20-account initial row split by protocol)", len(rows))
	}
	byName := map[string]targetRow{}
	for _, r := range rows {
		byName[r.Scenario] = r
	}
	check := func(name, mailfetch, peer, ratio, target, verdict string) {
		t.Helper()
		r, ok := byName[name]
		if !ok {
			t.Fatalf("no row %q in %+v", name, rows)
		}
		got := []string{r.Mailfetch, r.Peer, r.Ratio, r.Target, r.Verdict}
		if want := []string{mailfetch, peer, ratio, target, verdict}; !slices.Equal(got, want) {
			t.Errorf("row %q = %q, want %q", name, got, want)
		}
	}
	check("IMAP 10,000: +100 new and 100 flag changes", "0.400 s", "mbsync 0.500 s", "0.80×", "≤ 0.70×", "**not met**")
	check("POP3 10,000 delete mode", "1.20 s", "mpop 4.00 s", "0.30×", "≤ 0.35×", "met")
	check("20 accounts, nothing new: IMAP", "0.160 s", "mbsync 0.080 s", "2.00×", "≤ 2.00×", "met")
	check("POP3 10,000 keep mode, nothing new", "—", "mpop", "—", "≤ 0.70×", "not measured (-only pop3-nonew, -tools mailfetch,mpop)")
	// Planned, but no run succeeded.
	check("IMAP 1,000 in one folder, nothing new", "—", "mbsync", "—", "≤ 0.80×", "not measured (every run failed)")
	check("IMAP initial sync peak RSS at 40,000 messages (one folder)", "24.0 MB (16.0 MB at 1,000)", "mbsync 60.0 MB", "grows 0.205 KB/message", "≤ 25 MB, flat in message count", "met")
	if r := byName["IMAP 10,000: +100 new and 100 flag changes"]; r.Samples != "3 / 3" || r.Load1 != "1.00" {
		t.Errorf("samples %q load %q", r.Samples, r.Load1)
	}

	// Over the bound at any size is not flat.
	setRSS(t, b, 1000, "mailfetch", 40)
	setRSS(t, b, 1000, "mailfetch", 40)
	for _, r := range b.issueRows() {
		if strings.Contains(r.Scenario, "peak RSS") && r.Verdict != "**not met**" {
			t.Errorf("RSS 40 MB at 1,000 messages: verdict %q", r.Verdict)
		}
	}

	// The JSON carries the same rows.
	path := filepath.Join(t.TempDir(), "out.json")
	if err := b.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Targets []targetRow `json:"issue10_targets"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Targets) != 10 || doc.Targets[2].Verdict != "met" {
		t.Errorf("JSON issue10_targets: %v, %+v", err, doc.Targets)
	}

	var out bytes.Buffer
	b.issueTable(&out)
	for _, want := range []string{
		"### Issue 10 targets\n",
		"| scenario | mailfetch | peer | ratio | target | verdict | samples | load1 |\n",
		"| POP3 10,000 delete mode | 1.20 s | mpop 4.00 s | 0.30× | ≤ 0.35× | met | 1 / 1 | 1.00 |\n",
		"| 20 accounts × 500 messages, one invocation, initial: POP3 | — | mpop | — | ≤ 0.25× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRSSGrowthOneSize(t *testing.T) {
	b := issueBench(t, "-only", "imap-rss")
	setRSS(t, b, 40000, "mailfetch", 22)
	g := b.rssGrowth()
	if g == nil || len(g.Sizes) != 1 || g.MailfetchKBPerMessage != nil {
		t.Fatalf("rssGrowth = %+v, want one size and no slope", g)
	}
	r := b.rssRow()
	if r.Verdict != "met at this size" || r.Ratio != "one size: growth not measured" {
		t.Errorf("one size: %+v", r)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{7: "7", 999: "999", 1000: "1,000", 40000: "40,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// serverBench starts a private Dovecot with the users of the planned
// mailboxes and seeds them, as prepare does.
func serverBench(t *testing.T, args ...string) *bench {
	t.Helper()
	o, err := parseFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{opt: o}
	b.plan()
	var users []dovetest.User
	for _, m := range b.boxes {
		for _, u := range m.serverUsers() {
			users = append(users, dovetest.User{Name: u, Password: password})
		}
	}
	b.server = dovetest.Start(t, dovetest.Options{Users: users})
	for _, m := range b.boxes {
		if err := b.seed(m); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// The changed phase repeated within one run: each step adds changeCount
// new messages and flags changeCount messages no step flagged before, so
// the server's counts add up; one undo restores the seeded mailbox.
func TestChangeStepsAddUpAndUndo(t *testing.T) {
	b := serverBench(t, "-only", "imap-changed", "-tools", "mailfetch", "-n", "400")
	m := b.boxes[0]
	seededFlagged := m.flagged[m.user]
	prevMessages, prevFlagged := m.total(), seededFlagged
	for step := range 2 {
		flaggedNow, messages, nflagged, err := b.changeServer(m, step)
		if err != nil {
			t.Fatal(err)
		}
		if flaggedNow != changeCount || messages != prevMessages+changeCount || nflagged < prevFlagged+flaggedNow {
			t.Fatalf("step %d: flagged %d now, server %d messages (%d flagged), before %d (%d)", step, flaggedNow, messages, nflagged, prevMessages, prevFlagged)
		}
		prevMessages, prevFlagged = messages, nflagged
	}
	if err := b.undoChange(m); err != nil {
		t.Fatal(err)
	}
	messages, nflagged, err := b.serverCounts(m)
	if err != nil {
		t.Fatal(err)
	}
	if messages != m.total() || nflagged != seededFlagged {
		t.Errorf("after the undo: %d messages (%d flagged), want %d (%d)", messages, nflagged, m.total(), seededFlagged)
	}
	// The next run's first step flags the same messages again.
	if n, _, _, err := b.changeServer(m, 0); err != nil || n != changeCount {
		t.Errorf("first step after the undo flagged %d: %v", n, err)
	}
}

// A delete-mode mailbox is full again after reseed, whatever the tool
// left: nothing (it deleted everything) or part of it.
func TestReseedDeleteMode(t *testing.T) {
	b := serverBench(t, "-only", "pop3-delete", "-tools", "mailfetch", "-n", "50")
	m := b.boxes[0]
	if !m.deleteMode {
		t.Fatal("pop3-delete mailbox not in delete mode")
	}
	if _, err := b.server.Doveadm("expunge", "-u", m.user, "mailbox", "INBOX", "all"); err != nil {
		t.Fatal(err)
	}
	if left, err := b.serverLeft(m); err != nil || left != 0 {
		t.Fatalf("serverLeft = %d, %v after expunging all", left, err)
	}
	if err := b.reseed(m); err != nil {
		t.Fatal(err)
	}
	fl, err := b.server.Flags(m.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids := sortedUIDs(fl)
	if len(uids) != 50 {
		t.Fatalf("%d messages after reseed, want 50", len(uids))
	}
	// A run that stopped half-way left 20 messages behind.
	if err := b.server.Expunge(m.user, "INBOX", uids[:30]...); err != nil {
		t.Fatal(err)
	}
	if err := b.reseed(m); err != nil {
		t.Fatal(err)
	}
	if left, err := b.serverLeft(m); err != nil || left != 50 {
		t.Errorf("after reseed from 20 left: %d messages, %v; want 50", left, err)
	}
}

// A flag mailfetch does not know stops the run before anything is
// seeded, with mailfetch's own words.
func TestCheckMailfetchFlags(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "mailfetch")
	script := "#!/bin/sh\nfor a; do if [ \"$a\" = --account-jobs ]; then echo 'mailfetch: flag provided but not defined: -account-jobs' >&2; exit 64; fi; done\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags, wantErr string
	}{
		{"", ""},
		{"--jobs 2", ""},
		{"--account-jobs 8", "-mailfetch-flags: mailfetch imap sync refuses them (exit status 64): mailfetch: flag provided but not defined: -account-jobs"},
	} {
		o, err := parseFlags([]string{"-only", "accounts-imap", "-mailfetch-flags", tc.flags})
		if err != nil {
			t.Fatal(err)
		}
		b := &bench{opt: o, mailfetch: fake}
		b.plan()
		err = b.checkMailfetchFlags(t.Context())
		if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("flags %q: %v, want %q", tc.flags, err, tc.wantErr)
		}
	}
}
