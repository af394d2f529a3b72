package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// stat is the median (and range) of one metric over a cell's runs.
type stat struct{ med, lo, hi float64 }

func statOf(samples []sample, metric func(sample) float64) stat {
	if len(samples) == 0 {
		return stat{}
	}
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = metric(s)
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{m, v[0], v[len(v)-1]}
}

func (b *bench) findCell(proto, user string, delay time.Duration, tool string) *cell {
	for _, c := range b.cells {
		if c.proto == proto && c.box.user == user && c.delay == delay && c.tool.name == tool {
			return c
		}
	}
	return nil
}

// median returns the median sample metrics of a cell's phase, and false
// if it was not measured (or every run failed).
func (b *bench) median(proto, user string, delay time.Duration, tool, phase string) (wall, cpu, rss float64, ok bool) {
	c := b.findCell(proto, user, delay, tool)
	if c == nil || len(c.samples[phase]) == 0 {
		return 0, 0, 0, false
	}
	s := c.samples[phase]
	return statOf(s, func(x sample) float64 { return x.Wall }).med,
		statOf(s, func(x sample) float64 { return x.CPU }).med,
		statOf(s, func(x sample) float64 { return x.RSSMB }).med, true
}

func secs(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func linkName(d time.Duration) string {
	if d == 0 {
		return "loopback"
	}
	return fmt.Sprintf("+%v RTT", 2*d)
}

// report prints the Markdown report: setup, one table per protocol, the
// targets.
func (b *bench) report(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "## peerbench %s\n\n", b.started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Host %s, %d CPUs, %s. Load average (1/5/15 min) at start %s, at end %s.\n", host, runtime.NumCPU(), kernel(), b.loadStart, b.loadEnd)
	fmt.Fprintf(w, "Runs: %d (slow peers: %d), medians; sub-second cases: at least %d samples (re-sync phases %d× per run); warm-up run per fast tool: %v. Proxy delay %v each way; %v pause before each re-sync.\n\n",
		b.opt.runs, b.opt.slowRuns, b.opt.fastRuns, b.opt.resyncRepeats(), b.opt.warmup, b.opt.oneWay, b.opt.pause)
	var names []string
	for _, t := range tools {
		if v, ok := b.versions[t.name]; ok {
			names = append(names, fmt.Sprintf("%s (%s)", t.name, v))
		}
	}
	fmt.Fprintf(w, "Tools: %s.\n\n", strings.Join(names, "; "))
	if b.source != "" {
		fmt.Fprintf(w, "mailfetch built from %s.\n\n", b.source)
	}
	if len(b.opt.mailfetchFlags) > 0 {
		fmt.Fprintf(w, "mailfetch run with the extra flags `%s`.\n\n", strings.Join(b.opt.mailfetchFlags, " "))
	}
	b.issueTable(w)

	for _, proto := range []string{"pop3", "imap"} {
		var rows [][]string
		for _, m := range b.boxes {
			for _, delay := range []time.Duration{0, b.opt.oneWay} {
				for _, ph := range phaseOrder {
					for _, c := range b.cells {
						if c.proto != proto || c.box != m || c.delay != delay || !slices.Contains(c.phases, ph) {
							continue
						}
						rows = append(rows, b.row(c, ph))
					}
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", strings.ToUpper(proto))
		fmt.Fprintln(w, "| mailbox | link | phase | tool | wall s, median (min–max) | CPU s | peak RSS MB | mailfetch/tool wall | load1 at start (median) | runs ok |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		fmt.Fprintln(w)
	}

	b.rssTable(w)
	if lines := b.targets(); len(lines) > 0 {
		fmt.Fprintln(w, "### Earlier targets")
		fmt.Fprintln(w)
		for _, l := range lines {
			fmt.Fprintf(w, "- %s\n", l)
		}
		fmt.Fprintln(w)
	}
	var failures []string
	for _, c := range b.cells {
		for _, f := range c.failures {
			failures = append(failures, c.label()+": "+f)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "### Failed runs")
		fmt.Fprintln(w)
		for _, f := range failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintln(w)
	}
}

func (b *bench) row(c *cell, ph string) []string {
	s := c.samples[ph]
	ok := fmt.Sprintf("%d/%d", len(s), c.attempts[ph])
	if len(s) == 0 {
		return []string{c.box.describe(), linkName(c.delay), ph, c.tool.name, "—", "—", "—", "—", "—", ok}
	}
	wall := statOf(s, func(x sample) float64 { return x.Wall })
	cpu := statOf(s, func(x sample) float64 { return x.CPU })
	rss := statOf(s, func(x sample) float64 { return x.RSSMB })
	load := statOf(s, func(x sample) float64 { return x.Load1 })
	ratio := ""
	if c.tool.name != "mailfetch" {
		if mw, _, _, found := b.median(c.proto, c.box.user, c.delay, "mailfetch", ph); found {
			ratio = fmt.Sprintf("%.2f", mw/wall.med)
		}
	}
	wallText := secs(wall.med)
	if len(s) > 1 {
		wallText += fmt.Sprintf(" (%s–%s)", secs(wall.lo), secs(wall.hi))
	}
	return []string{c.box.describe(), linkName(c.delay), ph, c.tool.name, wallText, secs(cpu.med),
		fmt.Sprintf("%.1f", rss.med), ratio, fmt.Sprintf("%.2f", load.med), ok}
}

// targets evaluates the speed goals on what was measured.
func (b *bench) targets() []string {
	o := b.opt
	d := o.oneWay
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	ratio := func(what, proto, user string, delay time.Duration, phase, peer string, limit float64) {
		mw, _, _, ok1 := b.median(proto, user, delay, "mailfetch", phase)
		pw, _, _, ok2 := b.median(proto, user, delay, peer, phase)
		if !ok1 || !ok2 {
			return
		}
		out = append(out, fmt.Sprintf("%s %s: mailfetch %s s / %s %s s = %.2f (target ≤ %.2f)",
			verdict(mw <= limit*pw), what, secs(mw), peer, secs(pw), mw/pw, limit))
	}
	faster := func(what, proto, user string, delay time.Duration, phase, peer string, factor float64) {
		mw, _, _, ok1 := b.median(proto, user, delay, "mailfetch", phase)
		pw, _, _, ok2 := b.median(proto, user, delay, peer, phase)
		if !ok1 || !ok2 {
			return
		}
		out = append(out, fmt.Sprintf("%s %s: %s %s s / mailfetch %s s = %.1f× (target ≥ %.0f×)",
			verdict(pw >= factor*mw), what, peer, secs(pw), secs(mw), pw/mw, factor))
	}
	rssBelow := func(what, proto, user, phase string, limit float64) {
		_, _, rss, ok := b.median(proto, user, 0, "mailfetch", phase)
		if !ok {
			return
		}
		out = append(out, fmt.Sprintf("%s %s: mailfetch peak RSS %.1f MB (target < %.0f MB)", verdict(rss < limit), what, rss, limit))
	}
	popN, popSmall := fmt.Sprintf("pop%d", o.n), fmt.Sprintf("pop%d", o.nSmall)
	imapN, imapSmall := fmt.Sprintf("imap%d", o.n), fmt.Sprintf("imap%d", o.nSmall)
	rtt := fmt.Sprintf("+%v RTT", 2*d)
	ratio(fmt.Sprintf("POP3 %d wall ≤ 0.5× mpop", o.n), "pop3", popN, 0, phaseFetch, "mpop", 0.5)
	ratio(fmt.Sprintf("POP3 %d %s wall ≤ 0.6× mpop", o.nSmall, rtt), "pop3", popSmall, d, phaseFetch, "mpop", 0.6)
	faster(fmt.Sprintf("POP3 %d %s ≥ 20× faster than getmail6", o.nSmall, rtt), "pop3", popSmall, d, phaseFetch, "getmail", 20)
	rssBelow(fmt.Sprintf("POP3 %d RSS", o.n), "pop3", popN, phaseFetch, 40)
	rssBelow(fmt.Sprintf("POP3 one %d MiB message RSS", o.bigMB), "pop3", "big", phaseFetch, 40)
	ratio(fmt.Sprintf("IMAP %d initial ≤ 0.5× mbsync", o.n), "imap", imapN, 0, phaseInitial, "mbsync", 0.5)
	ratio(fmt.Sprintf("IMAP %d no-change ≤ 1× mbsync", o.n), "imap", imapN, 0, phaseNoChange, "mbsync", 1)
	ratio(fmt.Sprintf("IMAP %d %s initial ≤ 0.5× mbsync", o.nSmall, rtt), "imap", imapSmall, d, phaseInitial, "mbsync", 0.5)
	rssBelow(fmt.Sprintf("IMAP %d initial RSS", o.n), "imap", imapN, phaseInitial, 60)
	rssBelow(fmt.Sprintf("IMAP one %d MiB message RSS", o.bigMB), "imap", "big", phaseInitial, 40)
	return out
}

func kernel() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return "Linux " + strings.TrimSpace(string(data))
}

// writeJSON writes every sample with its cell, the options that name
// the mailboxes, and issue 10's table, for later analysis.
func (b *bench) writeJSON(path string) error {
	data, err := json.MarshalIndent(b.jsonDoc(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

type jsonCell struct {
	Tool       string              `json:"tool"`
	Version    string              `json:"version"`
	Proto      string              `json:"proto"`
	Mailbox    string              `json:"mailbox"`
	User       string              `json:"user"`
	Accounts   int                 `json:"accounts,omitempty"`
	DeleteMode bool                `json:"delete_mode,omitempty"`
	Messages   int                 `json:"messages"`
	Folders    int                 `json:"folders"`
	DelayMS    int64               `json:"one_way_delay_ms"`
	Scenarios  []string            `json:"scenarios"`
	Runs       int                 `json:"runs"`
	Repeats    int                 `json:"resync_repeats"`
	Attempts   map[string]int      `json:"attempts"`
	Samples    map[string][]sample `json:"samples"`
	Failures   []string            `json:"failures,omitempty"`
}

type jsonDoc struct {
	Source         string      `json:"mailfetch_source,omitempty"`
	MailfetchFlags []string    `json:"mailfetch_flags,omitempty"`
	Started        time.Time   `json:"started"`
	LoadStart      string      `json:"load_start"`
	LoadEnd        string      `json:"load_end"`
	CPUs           int         `json:"cpus"`
	Runs           int         `json:"runs"`
	FastRuns       int         `json:"fast_runs"`
	Targets        []targetRow `json:"issue10_targets,omitempty"`
	RSS            *rssGrowth  `json:"imap_rss_growth,omitempty"`
	Cells          []jsonCell  `json:"cells"`
}

func (b *bench) jsonDoc() jsonDoc {
	doc := jsonDoc{Source: b.source, MailfetchFlags: b.opt.mailfetchFlags, Started: b.started,
		LoadStart: b.loadStart, LoadEnd: b.loadEnd, CPUs: runtime.NumCPU(),
		Runs: b.opt.runs, FastRuns: b.opt.fastRuns, Targets: b.issueRows(), RSS: b.rssGrowth()}
	for _, c := range b.cells {
		doc.Cells = append(doc.Cells, jsonCell{
			Tool: c.tool.name, Version: b.versions[c.tool.name], Proto: c.proto,
			Mailbox: c.box.describe(), User: c.box.user, Accounts: c.box.accounts, DeleteMode: c.box.deleteMode,
			Messages: c.box.total(), Folders: len(c.box.folders),
			DelayMS: c.delay.Milliseconds(), Scenarios: c.scenarios, Runs: c.runs, Repeats: c.repeats,
			Attempts: c.attempts, Samples: c.samples, Failures: c.failures,
		})
	}
	return doc
}
