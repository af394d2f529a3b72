package report

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressPrinter shows a run on a terminal: a progress bar per folder at
// work on stderr, and the text printer's lines, those for stderr printed
// above the bars.
type progressPrinter struct {
	text     *textPrinter
	stderr   io.Writer
	dryRun   bool
	progress *mpb.Progress
	bars     map[string]*folderBar

	// The display is refreshed by a ticker of ours, not mpb's own:
	// lines written to the container are drawn at its next refresh
	// only, and mpb draws none when it shuts down, so finish asks for a
	// last one. Without it the last lines of a run (an account's
	// error, the line of a Ctrl-C) were never shown on a terminal.
	refresh    chan any
	stopTicker chan struct{}
	tickerDone chan struct{}
}

// refreshEvery is how often the bars are redrawn.
const refreshEvery = 150 * time.Millisecond

type folderBar struct {
	bar   *mpb.Bar
	count atomic.Int64
	total int64
}

// newProgressPrinter starts the progress display on stderr; text's lines
// for stderr go through it until finish.
func newProgressPrinter(text *textPrinter, stderr io.Writer, dryRun bool) *progressPrinter {
	p := &progressPrinter{text: text, stderr: stderr, dryRun: dryRun, bars: map[string]*folderBar{},
		refresh: make(chan any), stopTicker: make(chan struct{}), tickerDone: make(chan struct{})}
	p.progress = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(32), mpb.WithManualRefresh(p.refresh))
	text.stderr = p.progress
	go p.tick()
	return p
}

// tick asks for a refresh every refreshEvery until finish stops it.
func (p *progressPrinter) tick() {
	defer close(p.tickerDone)
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			select {
			case p.refresh <- now:
			case <-p.stopTicker:
				return
			}
		case <-p.stopTicker:
			return
		}
	}
}

func (p *progressPrinter) event(e Event) {
	switch e.Kind {
	case FolderStart:
		p.startBar(e)
	case FolderDone:
		p.finishBar(e)
	case Delivered:
		p.advance(e)
	}
	p.text.event(e)
}

func (p *progressPrinter) accountFailed(account string, err error) {
	p.text.accountFailed(account, err)
}

func (p *progressPrinter) summary(s Summary) { p.text.summary(s) }

// finish stops the display: the lines not drawn yet are drawn, the bars
// of folders still at work stay as they are, and the text printer writes
// to stderr itself again.
func (p *progressPrinter) finish() {
	if p.progress == nil {
		return
	}
	for k, fb := range p.bars {
		fb.bar.Abort(false)
		delete(p.bars, k)
	}
	close(p.stopTicker)
	<-p.tickerDone
	// Taken by mpb's listener, which passes it on to the display before
	// it can see the shutdown that Wait starts: the refresh happens.
	p.refresh <- time.Now()
	p.progress.Wait()
	p.progress = nil
	p.text.stderr = p.stderr
}

func barKey(e Event) string { return e.Account + "\x00" + e.Folder }

func (p *progressPrinter) startBar(e Event) {
	if p.progress == nil || e.Count == 0 || p.dryRun {
		return
	}
	fb := &folderBar{total: e.Count}
	name := e.Account + " " + e.Folder
	if len(name) > 28 {
		name = name[:27] + "…"
	}
	// A finished folder makes room: accounts with dozens of folders
	// would otherwise scroll the screen.
	fb.bar = p.progress.AddBar(max(e.Bytes, 1), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace, W: 29})),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("%d/%d msgs", fb.count.Load(), fb.total)
			}, decor.WC{W: 16}),
			decor.Counters(decor.SizeB1024(0), " % .1f / % .1f"),
		),
	)
	p.bars[barKey(e)] = fb
}

func (p *progressPrinter) advance(e Event) {
	if fb := p.bars[barKey(e)]; fb != nil {
		fb.count.Add(1)
		fb.bar.IncrInt64(e.Size)
	}
}

func (p *progressPrinter) finishBar(e Event) {
	if fb := p.bars[barKey(e)]; fb != nil {
		fb.bar.SetTotal(-1, true)
		delete(p.bars, barKey(e))
	}
}
