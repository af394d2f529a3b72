package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded", args)
		}
	}
}
