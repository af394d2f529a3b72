package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// targetRow is one row of issue 10's table: a scenario, what mailfetch
// and its peer took (medians), their ratio, the target and whether this
// run meets it.
type targetRow struct {
	Scenario  string `json:"scenario"`
	Mailfetch string `json:"mailfetch"`
	Peer      string `json:"peer"`
	Ratio     string `json:"ratio"`
	Target    string `json:"target"`
	// Verdict is "met", "not met", or "not measured (...)" naming the
	// scenario that measures it.
	Verdict string `json:"verdict"`
	Samples string `json:"samples"` // samples behind the medians, mailfetch / peer
	Load1   string `json:"load1"`   // median 1-minute load at the start of those samples
}

// rssLimitMB is issue 10's bound on the peak RSS of an initial IMAP sync
// of one large folder, at every message count.
const rssLimitMB = 25

// issueRows evaluates issue 10's table on what this run measured, in the
// issue's order; rows not measured say which scenario measures them.
func (b *bench) issueRows() []targetRow {
	o := b.opt
	n, small := count(o.n), count(o.nSmall)
	acc := o.accounts
	accIMAP, accPOP := accountsUser("imap", acc.count, acc.each), accountsUser("pop3", acc.count, acc.each)
	rows := []targetRow{
		b.ratioRow("IMAP "+n+": +100 new and 100 flag changes", "imap-changed", "imap", fmt.Sprintf("imap%d", o.n), 0, phaseChanged, "mbsync", 0.7),
		b.ratioRow("POP3 "+n+" keep mode, nothing new", "pop3-nonew", "pop3", fmt.Sprintf("pop%d", o.n), 0, phaseNoChange, "mpop", 0.7),
		b.ratioRow("POP3 "+n+" delete mode", "pop3-delete", "pop3", popDeleteUser(o.n), 0, phaseFetch, "mpop", 0.35),
		b.ratioRow(fmt.Sprintf("POP3 one %d MiB message", o.bigMB), "pop3-big", "pop3", "big", 0, phaseFetch, "mpop", 0.5),
		b.ratioRow("IMAP "+small+" in one folder, nothing new", "imap-onefolder", "imap", foldersUser(1, o.nSmall), 0, phaseNoChange, "mbsync", 0.8),
		b.rssRow(),
		b.ratioRow(fmt.Sprintf("%d accounts × %d messages, one invocation, initial: IMAP", acc.count, acc.each), "accounts-imap", "imap", accIMAP, 0, phaseInitial, "mbsync", 0.25),
		b.ratioRow(fmt.Sprintf("%d accounts × %d messages, one invocation, initial: POP3", acc.count, acc.each), "accounts-pop3", "pop3", accPOP, 0, phaseFetch, "mpop", 0.25),
		b.ratioRow(fmt.Sprintf("%d accounts, nothing new: IMAP", acc.count), "accounts-imap", "imap", accIMAP, 0, phaseNoChange, "mbsync", 2),
		b.ratioRow(fmt.Sprintf("IMAP %s, +%v RTT, initial", small, 2*o.oneWay), "imap-rtt", "imap", fmt.Sprintf("imap%d", o.nSmall), o.oneWay, phaseInitial, "mbsync", 0.35),
	}
	for _, r := range rows {
		if !strings.HasPrefix(r.Verdict, "not measured") {
			return rows
		}
	}
	return nil
}

// ratioRow compares mailfetch's median wall time with peer's on one
// mailbox, link and phase; met when the ratio is at most limit.
func (b *bench) ratioRow(what, scenario, proto, user string, delay time.Duration, phase, peer string, limit float64) targetRow {
	row := targetRow{Scenario: what, Mailfetch: "—", Peer: peer, Ratio: "—", Target: fmt.Sprintf("≤ %s×", ratioText(limit))}
	mc, pc := b.findCell(proto, user, delay, "mailfetch"), b.findCell(proto, user, delay, peer)
	var ms, ps []sample
	if mc != nil {
		ms = mc.samples[phase]
	}
	if pc != nil {
		ps = pc.samples[phase]
	}
	row.Samples = fmt.Sprintf("%d / %d", len(ms), len(ps))
	if len(ms) == 0 || len(ps) == 0 {
		planned := func(c *cell) bool { return c != nil && slices.Contains(c.phases, phase) }
		row.Verdict = fmt.Sprintf("not measured (-only %s, -tools mailfetch,%s)", scenario, peer)
		if planned(mc) && planned(pc) {
			row.Verdict = "not measured (every run failed)"
		}
		return row
	}
	mw, pw := medianWall(ms), medianWall(ps)
	row.Mailfetch = secs(mw) + " s"
	row.Peer = fmt.Sprintf("%s %s s", peer, secs(pw))
	row.Ratio = ratioText(mw/pw) + "×"
	row.Verdict = verdictText(mw <= limit*pw)
	row.Load1 = fmt.Sprintf("%.2f", statOf(append(append([]sample(nil), ms...), ps...), func(s sample) float64 { return s.Load1 }).med)
	return row
}

// rssSize is the one-folder initial sync at one message count.
type rssSize struct {
	Messages         int     `json:"messages"`
	MailfetchRSSMB   float64 `json:"mailfetch_rss_mb,omitempty"`
	MailfetchWallS   float64 `json:"mailfetch_wall_s,omitempty"`
	MbsyncRSSMB      float64 `json:"mbsync_rss_mb,omitempty"`
	MbsyncWallS      float64 `json:"mbsync_wall_s,omitempty"`
	MailfetchSamples int     `json:"mailfetch_samples"`
	MbsyncSamples    int     `json:"mbsync_samples"`
}

// rssGrowth is the peak RSS of the initial sync of one folder by message
// count, and its growth per message between the smallest and the largest
// count that mailfetch (or mbsync) synced: KB (10³ bytes) per message.
type rssGrowth struct {
	Sizes                 []rssSize `json:"sizes"`
	MailfetchKBPerMessage *float64  `json:"mailfetch_kb_per_message,omitempty"`
	MbsyncKBPerMessage    *float64  `json:"mbsync_kb_per_message,omitempty"`
}

func (b *bench) rssGrowth() *rssGrowth {
	g := &rssGrowth{}
	for _, n := range b.opt.rssSizes {
		sz := rssSize{Messages: n}
		if c := b.findCell("imap", foldersUser(1, n), 0, "mailfetch"); c != nil && len(c.samples[phaseInitial]) > 0 {
			s := c.samples[phaseInitial]
			sz.MailfetchRSSMB, sz.MailfetchWallS, sz.MailfetchSamples = medianRSS(s), medianWall(s), len(s)
		}
		if c := b.findCell("imap", foldersUser(1, n), 0, "mbsync"); c != nil && len(c.samples[phaseInitial]) > 0 {
			s := c.samples[phaseInitial]
			sz.MbsyncRSSMB, sz.MbsyncWallS, sz.MbsyncSamples = medianRSS(s), medianWall(s), len(s)
		}
		if sz.MailfetchSamples > 0 || sz.MbsyncSamples > 0 {
			g.Sizes = append(g.Sizes, sz)
		}
	}
	if len(g.Sizes) == 0 {
		return nil
	}
	g.MailfetchKBPerMessage = slope(g.Sizes, func(s rssSize) (float64, bool) { return s.MailfetchRSSMB, s.MailfetchSamples > 0 })
	g.MbsyncKBPerMessage = slope(g.Sizes, func(s rssSize) (float64, bool) { return s.MbsyncRSSMB, s.MbsyncSamples > 0 })
	return g
}

// slope is the growth in KB per message from the smallest to the largest
// measured size; nil with fewer than two.
func slope(sizes []rssSize, rss func(rssSize) (float64, bool)) *float64 {
	var first, last *rssSize
	for i := range sizes {
		if _, ok := rss(sizes[i]); ok {
			if first == nil {
				first = &sizes[i]
			}
			last = &sizes[i]
		}
	}
	if first == nil || first == last {
		return nil
	}
	r0, _ := rss(*first)
	r1, _ := rss(*last)
	v := (r1 - r0) * 1000 / float64(last.Messages-first.Messages) // MB → KB
	return &v
}

// rssRow is the table's memory row: mailfetch's peak RSS at the largest
// count measured, and met when every count measured stays within
// rssLimitMB (flat in message count: the bound holds from the smallest
// to the largest).
func (b *bench) rssRow() targetRow {
	row := targetRow{Scenario: "IMAP initial sync peak RSS (one folder)", Mailfetch: "—", Peer: "—", Ratio: "—",
		Target: fmt.Sprintf("≤ %d MB, flat in message count", rssLimitMB), Verdict: "not measured (-only imap-rss)"}
	g := b.rssGrowth()
	if g == nil {
		return row
	}
	var mf []rssSize
	for _, s := range g.Sizes {
		if s.MailfetchSamples > 0 {
			mf = append(mf, s)
		}
	}
	if len(mf) == 0 {
		return row
	}
	top := mf[len(mf)-1]
	row.Scenario = fmt.Sprintf("IMAP initial sync peak RSS at %s messages (one folder)", count(top.Messages))
	row.Mailfetch = fmt.Sprintf("%.1f MB", top.MailfetchRSSMB)
	if len(mf) > 1 {
		row.Mailfetch += fmt.Sprintf(" (%.1f MB at %s)", mf[0].MailfetchRSSMB, count(mf[0].Messages))
	}
	if top.MbsyncSamples > 0 {
		row.Peer = fmt.Sprintf("mbsync %.1f MB", top.MbsyncRSSMB)
	}
	within := true
	for _, s := range mf {
		within = within && s.MailfetchRSSMB <= rssLimitMB
	}
	row.Verdict = verdictText(within)
	if g.MailfetchKBPerMessage != nil {
		row.Ratio = fmt.Sprintf("grows %.3f KB/message", *g.MailfetchKBPerMessage)
	} else {
		row.Ratio = "one size: growth not measured"
		row.Verdict += " at this size"
	}
	row.Samples = fmt.Sprintf("%d / %d", top.MailfetchSamples, top.MbsyncSamples)
	if c := b.findCell("imap", foldersUser(1, top.Messages), 0, "mailfetch"); c != nil {
		row.Load1 = fmt.Sprintf("%.2f", statOf(c.samples[phaseInitial], func(s sample) float64 { return s.Load1 }).med)
	}
	return row
}

// issueTable prints issue 10's table when this run measured any of it.
func (b *bench) issueTable(w io.Writer) {
	rows := b.issueRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "### Issue 10 targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Medians of this run; ratio = mailfetch wall / peer wall; samples = mailfetch / peer; load1 = median 1-minute load at the start of those samples.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | mailfetch | peer | ratio | target | verdict | samples | load1 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Scenario, r.Mailfetch, r.Peer, r.Ratio, r.Target, r.Verdict, r.Samples, dash(r.Load1))
	}
	fmt.Fprintln(w)
	if hl := b.headlineRows(); len(hl) > 0 {
		fmt.Fprintln(w, "Headline rows, which must stay as good or better (baseline: issue 10, commit e7558be; ratios move with the load):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| scenario | mailfetch | peer | ratio | baseline | verdict | samples | load1 |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, r := range hl {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Scenario, r.Mailfetch, r.Peer, r.Ratio, r.Target, r.Verdict, r.Samples, dash(r.Load1))
		}
		fmt.Fprintln(w)
	}
}

// headlineRows are the rows issue 10 says mailfetch leads on, each
// against the ratio the issue measured; only the measured ones.
func (b *bench) headlineRows() []targetRow {
	o := b.opt
	mf := o.manyFolders
	type base struct {
		what, proto, user string
		delay             time.Duration
		phase, peer       string
		ratio             float64
	}
	var out []targetRow
	for _, h := range []base{
		{"IMAP " + count(o.n) + " initial", "imap", fmt.Sprintf("imap%d", o.n), 0, phaseInitial, "mbsync", 0.32},
		{"IMAP " + count(o.n) + " no-change", "imap", fmt.Sprintf("imap%d", o.n), 0, phaseNoChange, "mbsync", 0.81},
		{fmt.Sprintf("IMAP %d folders × %d messages, initial", mf.count, mf.each), "imap", foldersUser(mf.count, mf.each), 0, phaseInitial, "mbsync", 0.33},
		{fmt.Sprintf("IMAP %d folders × %d messages, no-change", mf.count, mf.each), "imap", foldersUser(mf.count, mf.each), 0, phaseNoChange, "mbsync", 0.63},
		{fmt.Sprintf("IMAP one %d MiB message", o.bigMB), "imap", "big", 0, phaseInitial, "mbsync", 0.17},
		{fmt.Sprintf("POP3 %s, +%v RTT", count(o.nSmall), 2*o.oneWay), "pop3", fmt.Sprintf("pop%d", o.nSmall), o.oneWay, phaseFetch, "mpop", 0.50},
	} {
		r := b.ratioRow(h.what, "", h.proto, h.user, h.delay, h.phase, h.peer, h.ratio)
		if strings.HasPrefix(r.Verdict, "not measured") {
			continue
		}
		r.Target = ratioText(h.ratio) + "×"
		if r.Verdict == verdictText(true) {
			r.Verdict = "as good or better"
		} else {
			r.Verdict = "**worse**"
		}
		out = append(out, r)
	}
	return out
}

// rssTable prints the peak RSS of the one-folder initial syncs by size.
func (b *bench) rssTable(w io.Writer) {
	g := b.rssGrowth()
	if g == nil {
		return
	}
	fmt.Fprintln(w, "### IMAP initial sync of one folder: peak RSS by message count")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| messages | mailfetch RSS MB | mailfetch wall s | mbsync RSS MB | mbsync wall s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	num := func(v float64, n int, format string) string {
		if n == 0 {
			return "—"
		}
		return fmt.Sprintf(format, v)
	}
	for _, s := range g.Sizes {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", count(s.Messages),
			num(s.MailfetchRSSMB, s.MailfetchSamples, "%.1f"), num(s.MailfetchWallS, s.MailfetchSamples, "%.3g"),
			num(s.MbsyncRSSMB, s.MbsyncSamples, "%.1f"), num(s.MbsyncWallS, s.MbsyncSamples, "%.3g"))
	}
	fmt.Fprintln(w)
	for _, t := range []struct {
		name string
		v    *float64
	}{{"mailfetch", g.MailfetchKBPerMessage}, {"mbsync", g.MbsyncKBPerMessage}} {
		if t.v != nil {
			fmt.Fprintf(w, "- %s grows %.3f KB per message (KB = 10³ bytes; smallest to largest count).\n", t.name, *t.v)
		}
	}
	fmt.Fprintln(w)
}

func medianWall(s []sample) float64 { return statOf(s, func(x sample) float64 { return x.Wall }).med }
func medianRSS(s []sample) float64  { return statOf(s, func(x sample) float64 { return x.RSSMB }).med }

func verdictText(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// ratioText prints a ratio with two significant digits at least: 0.35,
// 1.61, 9.0.
func ratioText(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	if v >= 0.1 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// count prints a message count with thousands separators: 40,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
