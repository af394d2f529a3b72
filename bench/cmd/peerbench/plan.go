package main

import (
	"fmt"
	"slices"
	"time"
)

// Phases of a cell's run. A POP3 run has one; an IMAP run syncs a fresh
// Maildir, syncs again with nothing changed, and (for the main scenario)
// syncs once more after the server gained 100 messages and 100 messages
// changed flags.
const (
	phaseFetch    = "full"
	phaseInitial  = "initial"
	phaseNoChange = "no-change"
	phaseChanged  = "+100 new, 100 flags"
)

var phaseOrder = []string{phaseFetch, phaseInitial, phaseNoChange, phaseChanged}

// changeCount is how many messages the changed phase adds, and how many
// it flags, spread evenly over the folders.
const changeCount = 100

// mailbox is one user's mail on the server, shared by every cell that
// measures it.
type mailbox struct {
	user      string
	folders   []string // INBOX first
	perFolder int
	bigBytes  int // > 0: one message of this size in INBOX instead of generated mail

	// Known after seeding.
	flagged     int                 // messages with \Flagged, all folders
	toFlag      map[string][]uint32 // per folder: unflagged UIDs the changed phase flags
	flagChanges int                 // how many those are (changeCount unless folders are tiny)
	seedBase    int64               // generator seed of the first folder
}

func (m *mailbox) total() int {
	if m.bigBytes > 0 {
		return 1
	}
	return len(m.folders) * m.perFolder
}

func (m *mailbox) describe() string {
	if m.bigBytes > 0 {
		return fmt.Sprintf("1 message of %d MiB", m.bigBytes>>20)
	}
	if len(m.folders) == 1 {
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
	runs      int
	phases    []string
	scenarios []string
	samples   map[string][]sample // by phase
	failures  []string
}

func (c *cell) label() string {
	d := "direct"
	if c.delay > 0 {
		d = fmt.Sprintf("+%v RTT", 2*c.delay)
	}
	return fmt.Sprintf("%s %s %s, %s", c.tool.name, c.proto, c.box.describe(), d)
}

func (b *bench) popBox(n int) *mailbox {
	return b.box(fmt.Sprintf("pop%d", n), func() *mailbox {
		return &mailbox{folders: []string{"INBOX"}, perFolder: n, seedBase: 1}
	})
}

func (b *bench) imapBox(n int) *mailbox {
	return b.box(fmt.Sprintf("imap%d", n), func() *mailbox {
		folders := []string{"INBOX"}
		for i := 1; i < 10; i++ {
			folders = append(folders, fmt.Sprintf("Folder%02d", i))
		}
		return &mailbox{folders: folders, perFolder: n / 10, seedBase: 100}
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

// plan turns the selected scenarios and tools into cells. A cell asked
// for by two scenarios (mailfetch over POP3 of n-small messages, direct,
// is in pop3 and pop3-rtt) is measured once.
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
				runs := o.runs
				if t.slow {
					runs = o.slowRuns
				}
				c = &cell{proto: proto, box: box, tool: t, delay: delay, runs: runs, samples: map[string][]sample{}}
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
	imapAll := []string{phaseInitial, phaseNoChange, phaseChanged}
	imapTwo := []string{phaseInitial, phaseNoChange}
	d := o.oneWay
	if o.only["pop3"] {
		add("pop3", "pop3", b.popBox(o.n), 0, fetchOnly, "mailfetch", "mpop", "fetchmail")
		add("pop3", "pop3", b.popBox(o.nSmall), 0, fetchOnly, "mailfetch", "mpop", "getmail")
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
	if o.only["imap-rtt"] {
		for _, delay := range []time.Duration{0, d} {
			add("imap-rtt", "imap", b.imapBox(o.nSmall), delay, imapTwo, "mailfetch", "mbsync")
		}
	}
	if o.only["imap-big"] {
		add("imap-big", "imap", b.bigBox(), 0, []string{phaseInitial}, "mailfetch", "mbsync")
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
