package main

import (
	"fmt"
	"slices"
	"time"
)

// Phases of a cell's run. A POP3 run fetches into an empty Maildir and,
// for some scenarios, fetches again with nothing new; an IMAP run syncs a
// fresh Maildir, syncs again with nothing changed, and (for some
// scenarios) syncs once more after the server gained 100 messages and 100
// messages changed flags.
const (
	phaseFetch    = "full"
	phaseInitial  = "initial"
	phaseNoChange = "no-change"
	phaseChanged  = "+100 new, 100 flags"
)

var phaseOrder = []string{phaseFetch, phaseInitial, phaseNoChange, phaseChanged}

// isResync says whether a phase syncs a Maildir that is already there:
// such a phase is repeated within one run (-fast-runs), each repetition a
// sample of its own.
func isResync(phase string) bool { return phase == phaseNoChange || phase == phaseChanged }

// changeCount is how many messages each changed phase adds, and how many
// it flags, spread evenly over the folders.
const changeCount = 100

// fastWall is the wall time under which a case counts as sub-second and
// gets -fast-runs samples instead of -runs.
const fastWall = 1.0

// mailbox is the mail of one server user (or, for the accounts
// scenarios, of several), shared by every cell that measures it.
type mailbox struct {
	// user is the server user; with accounts > 0 it names the mailbox,
	// and its server users are user-01, user-02, ...
	user       string
	accounts   int
	folders    []string // INBOX first
	perFolder  int
	bigBytes   int    // > 0: one message of this size in INBOX instead of generated mail
	deleteMode bool   // POP3 delete mode: the tools empty the mailbox, the driver seeds it again after each run
	label      string // describe's text, when the default would not say enough
	seedBase   int64  // generator seed of the first folder of the first user

	// Known after seeding.
	flagged   map[string]int      // by server user: messages with \Flagged, all folders
	unflagged map[string][]uint32 // by folder (single-user mailboxes): UIDs without \Flagged, ascending
	flaggedTo map[string]int      // by folder: how many of unflagged the changed phases have flagged so far

	emptied time.Time // delete mode: when a run last had the server delete the mailbox
}

// serverUsers are the server users whose mail the mailbox is.
func (m *mailbox) serverUsers() []string {
	if m.accounts == 0 {
		return []string{m.user}
	}
	users := make([]string, m.accounts)
	for k := range users {
		users[k] = fmt.Sprintf("%s-%02d", m.user, k+1)
	}
	return users
}

// perUser is how many messages each server user holds.
func (m *mailbox) perUser() int {
	if m.bigBytes > 0 {
		return 1
	}
	return len(m.folders) * m.perFolder
}

func (m *mailbox) total() int { return m.perUser() * len(m.serverUsers()) }

// seedOf is the generator seed of folder i of server user k: every
// folder of every user holds different mail.
func (m *mailbox) seedOf(k, i int) int64 { return m.seedBase + int64(k)*1000 + int64(i) }

func (m *mailbox) describe() string {
	switch {
	case m.label != "":
		return m.label
	case m.bigBytes > 0:
		return fmt.Sprintf("1 message of %d MiB", m.bigBytes>>20)
	case m.accounts > 0:
		return fmt.Sprintf("%d accounts × %d messages", m.accounts, m.perUser())
	case len(m.folders) == 1:
		return fmt.Sprintf("%d messages", m.total())
	}
	return fmt.Sprintf("%d messages in %d folders", m.total(), len(m.folders))
}

// cell is one tool measured on one mailbox over one protocol at one delay.
type cell struct {
	proto     string // "pop3" or "imap"
	box       *mailbox
	tool      *tool
	delay     time.Duration // one-way; 0 is direct
	runs      int           // fresh runs planned; more are added for sub-second cases
	repeats   int           // samples of each re-sync phase per run
	phases    []string
	scenarios []string
	samples   map[string][]sample // by phase
	attempts  map[string]int      // by phase: timed runs started
	failures  []string
}

func (c *cell) label() string {
	d := "direct"
	if c.delay > 0 {
		d = fmt.Sprintf("+%v RTT", 2*c.delay)
	}
	return fmt.Sprintf("%s %s %s, %s", c.tool.name, c.proto, c.box.describe(), d)
}

// Mailboxes are named after what they hold, so that the report and the
// targets can find them again: pop10000, imap10000 (10 folders),
// imap1x40000 (one folder), imap100x100, acct-imap-20x500, ...

func (b *bench) popBox(n int) *mailbox {
	return b.box(fmt.Sprintf("pop%d", n), func() *mailbox {
		return &mailbox{folders: []string{"INBOX"}, perFolder: n, seedBase: 1}
	})
}

func popDeleteUser(n int) string { return fmt.Sprintf("popdel%d", n) }

// popDeleteBox holds the same mail as popBox(n), for POP3 delete mode.
func (b *bench) popDeleteBox(n int) *mailbox {
	return b.box(popDeleteUser(n), func() *mailbox {
		return &mailbox{folders: []string{"INBOX"}, perFolder: n, seedBase: 1, deleteMode: true,
			label: fmt.Sprintf("%d messages, delete mode", n)}
	})
}

func (b *bench) imapBox(n int) *mailbox {
	return b.box(fmt.Sprintf("imap%d", n), func() *mailbox {
		return &mailbox{folders: folderNames(10), perFolder: n / 10, seedBase: 100}
	})
}

func foldersUser(folders, perFolder int) string { return fmt.Sprintf("imap%dx%d", folders, perFolder) }

// foldersBox is folders folders of perFolder messages each; with one
// folder, its INBOX is a prefix of imapBox's (the same generator seed).
func (b *bench) foldersBox(folders, perFolder int) *mailbox {
	return b.box(foldersUser(folders, perFolder), func() *mailbox {
		m := &mailbox{folders: folderNames(folders), perFolder: perFolder, seedBase: 100}
		if folders == 1 {
			m.label = fmt.Sprintf("%d messages in one folder", perFolder)
		} else {
			m.label = fmt.Sprintf("%d folders × %d messages", folders, perFolder)
		}
		return m
	})
}

func accountsUser(proto string, accounts, perAccount int) string {
	return fmt.Sprintf("acct-%s-%dx%d", proto, accounts, perAccount)
}

// accountsBox is accounts server users of perAccount messages each in
// their INBOX. POP3 and IMAP get users of their own: Dovecot's POP3 sets
// \Seen on what it sends, which would change the IMAP mailboxes.
func (b *bench) accountsBox(proto string, accounts, perAccount int) *mailbox {
	return b.box(accountsUser(proto, accounts, perAccount), func() *mailbox {
		return &mailbox{accounts: accounts, folders: []string{"INBOX"}, perFolder: perAccount, seedBase: 300}
	})
}

func (b *bench) bigBox() *mailbox {
	return b.box("big", func() *mailbox {
		return &mailbox{folders: []string{"INBOX"}, perFolder: 1, bigBytes: b.opt.bigMB << 20}
	})
}

func (b *bench) box(user string, mk func() *mailbox) *mailbox {
	for _, m := range b.boxes {
		if m.user == user {
			return m
		}
	}
	m := mk()
	m.user = user
	b.boxes = append(b.boxes, m)
	return m
}

// folderNames are INBOX and n-1 folders beside it: Folder01..Folder09 for
// 10, Folder01..Folder99 for 100, Folder001..Folder999 for 1000.
func folderNames(n int) []string {
	width := max(2, len(fmt.Sprint(n-1)))
	names := []string{"INBOX"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("Folder%0*d", width, i))
	}
	return names
}

// plan turns the selected scenarios and tools into cells. A cell asked
// for by two scenarios (mailfetch over POP3 of n-small messages, direct,
// is in pop3 and pop3-rtt) is measured once, with the phases of both.
func (b *bench) plan() {
	o := b.opt
	add := func(scenario, proto string, box *mailbox, delay time.Duration, phases []string, toolNames ...string) {
		for _, name := range toolNames {
			if !o.tools[name] {
				continue
			}
			t := toolByName(name)
			var c *cell
			for _, have := range b.cells {
				if have.proto == proto && have.box == box && have.tool == t && have.delay == delay {
					c = have
				}
			}
			if c == nil {
				runs, repeats := o.runs, o.resyncRepeats()
				if t.slow {
					runs, repeats = o.slowRuns, 1
				}
				c = &cell{proto: proto, box: box, tool: t, delay: delay, runs: runs, repeats: repeats,
					samples: map[string][]sample{}, attempts: map[string]int{}}
				b.cells = append(b.cells, c)
			}
			c.scenarios = append(c.scenarios, scenario)
			for _, p := range phases {
				if !slices.Contains(c.phases, p) {
					c.phases = append(c.phases, p)
				}
			}
			slices.SortFunc(c.phases, func(x, y string) int {
				return slices.Index(phaseOrder, x) - slices.Index(phaseOrder, y)
			})
		}
	}
	fetchOnly := []string{phaseFetch}
	fetchTwice := []string{phaseFetch, phaseNoChange}
	imapAll := []string{phaseInitial, phaseNoChange, phaseChanged}
	imapTwo := []string{phaseInitial, phaseNoChange}
	d := o.oneWay
	if o.only["pop3"] {
		add("pop3", "pop3", b.popBox(o.n), 0, fetchOnly, "mailfetch", "mpop", "fetchmail")
		add("pop3", "pop3", b.popBox(o.nSmall), 0, fetchOnly, "mailfetch", "mpop", "getmail")
	}
	if o.only["pop3-nonew"] {
		add("pop3-nonew", "pop3", b.popBox(o.n), 0, fetchTwice, "mailfetch", "mpop")
	}
	if o.only["pop3-delete"] {
		add("pop3-delete", "pop3", b.popDeleteBox(o.n), 0, fetchOnly, "mailfetch", "mpop")
	}
	if o.only["pop3-rtt"] {
		for _, delay := range []time.Duration{0, d} {
			add("pop3-rtt", "pop3", b.popBox(o.nSmall), delay, fetchOnly, "mailfetch", "mpop", "getmail", "fetchmail")
		}
	}
	if o.only["pop3-big"] {
		add("pop3-big", "pop3", b.bigBox(), 0, fetchOnly, "mailfetch", "mpop")
	}
	if o.only["imap"] {
		add("imap", "imap", b.imapBox(o.n), 0, imapAll, "mailfetch", "mbsync", "offlineimap")
	}
	if o.only["imap-changed"] {
		add("imap-changed", "imap", b.imapBox(o.n), 0, []string{phaseInitial, phaseChanged}, "mailfetch", "mbsync")
	}
	if o.only["imap-rtt"] {
		for _, delay := range []time.Duration{0, d} {
			add("imap-rtt", "imap", b.imapBox(o.nSmall), delay, imapTwo, "mailfetch", "mbsync")
		}
	}
	if o.only["imap-onefolder"] {
		add("imap-onefolder", "imap", b.foldersBox(1, o.nSmall), 0, imapTwo, "mailfetch", "mbsync")
	}
	if o.only["imap-rss"] {
		for _, n := range o.rssSizes {
			add("imap-rss", "imap", b.foldersBox(1, n), 0, []string{phaseInitial}, "mailfetch", "mbsync")
		}
	}
	if o.only["imap-folders"] {
		add("imap-folders", "imap", b.foldersBox(o.manyFolders.count, o.manyFolders.each), 0, imapTwo, "mailfetch", "mbsync")
	}
	if o.only["imap-big"] {
		add("imap-big", "imap", b.bigBox(), 0, []string{phaseInitial}, "mailfetch", "mbsync")
	}
	if o.only["accounts-imap"] {
		add("accounts-imap", "imap", b.accountsBox("imap", o.accounts.count, o.accounts.each), 0, imapTwo, "mailfetch", "mbsync")
	}
	if o.only["accounts-pop3"] {
		add("accounts-pop3", "pop3", b.accountsBox("pop3", o.accounts.count, o.accounts.each), 0, fetchTwice, "mailfetch", "mpop")
	}
	// Mailboxes no cell uses (their tools were not selected) are not seeded.
	b.boxes = slices.DeleteFunc(b.boxes, func(m *mailbox) bool {
		return !slices.ContainsFunc(b.cells, func(c *cell) bool { return c.box == m })
	})
}

// needsDelay reports whether any cell of proto goes through the proxy.
func (b *bench) needsDelay(proto string) bool {
	return slices.ContainsFunc(b.cells, func(c *cell) bool { return c.proto == proto && c.delay > 0 })
}

// fastGroups returns, for mailbox m after its planned runs, the cells
// that need more fresh runs: the fast (not slow) cells of each protocol
// and delay in which some fast cell's fresh phase (full or initial) took
// under fastWall seconds (median), so that both sides of the ratio get
// -fast-runs samples.
func (b *bench) fastGroups(m *mailbox) []*cell {
	type key struct {
		proto string
		delay time.Duration
	}
	fast := map[key]bool{}
	for _, c := range b.cells {
		if c.box != m || c.tool.slow {
			continue
		}
		for _, ph := range c.phases {
			if isResync(ph) || len(c.samples[ph]) == 0 {
				continue
			}
			if statOf(c.samples[ph], func(s sample) float64 { return s.Wall }).med < fastWall {
				fast[key{c.proto, c.delay}] = true
			}
		}
	}
	var out []*cell
	for _, c := range b.cells {
		if c.box == m && !c.tool.slow && fast[key{c.proto, c.delay}] && c.runs < b.opt.fastRuns {
			out = append(out, c)
		}
	}
	return out
}
