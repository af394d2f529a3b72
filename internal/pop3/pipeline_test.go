package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// genMessages makes n deterministic messages, LF line endings, with the
// shapes that break readers: stuffed dots, lone dots, bare CRs, empty
// bodies, and some large enough to fill socket buffers while commands are
// written ahead.
func genMessages(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	msgs := make([]string, n)
	for i := range msgs {
		var b strings.Builder
		fmt.Fprintf(&b, "Message-ID: <%d@test>\nSubject: message %d\n\n", i+1, i+1)
		lines := r.IntN(40)
		if i%25 == 7 {
			lines = 20000 // ~0.5-1 MB
		}
		for l := range lines {
			switch r.IntN(8) {
			case 0:
				b.WriteString(".\n")
			case 1:
				b.WriteString("..starts with two dots\n")
			case 2:
				b.WriteString("\n")
			case 3:
				b.WriteString("bare\rCR\n")
			default:
				fmt.Fprintf(&b, "line %d of message %d %s\n", l, i+1, strings.Repeat("x", r.IntN(60)))
			}
		}
		if i%50 == 3 {
			b.Reset() // header-only, no blank line
			fmt.Fprintf(&b, "Subject: header only %d\n", i+1)
		}
		msgs[i] = b.String()
	}
	return msgs
}

func seq(from, to int) []int {
	var nums []int
	for i := from; i <= to; i++ {
		nums = append(nums, i)
	}
	return nums
}

func retrAll(c *Client, nums []int, window int) (map[int]string, []int, error) {
	got := map[int]string{}
	var order []int
	err := c.RetrPipelined(ctx, nums, window, func(n int, body io.Reader) error {
		b, err := io.ReadAll(body)
		got[n] = string(b)
		order = append(order, n)
		return err
	})
	return got, order, err
}

func TestRetrPipelined200(t *testing.T) {
	msgs := genMessages(200)
	nums := seq(1, 200)
	const window = 16

	// Pipelined: the server refuses to answer the first RETR until the
	// whole window has arrived, which only a pipelining client achieves.
	pm := &mailbox{msgs: msgs, caps: []string{"UIDL", "PIPELINING"}, requireAhead: window}
	pc := dialMailbox(t, pm)
	pipelined, order, err := retrAll(pc, nums, window)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, nums) {
		t.Fatalf("fn called in order %v", order)
	}
	if err := pc.Quit(ctx); err != nil {
		t.Fatal(err)
	}

	// Without PIPELINING advertised: one at a time.
	sm := &mailbox{msgs: msgs, caps: []string{"UIDL"}}
	sc := dialMailbox(t, sm)
	serial, _, err := retrAll(sc, nums, window)
	if err != nil {
		t.Fatal(err)
	}

	// And plain Retr, one by one, on the same session.
	for _, n := range nums {
		body, err := sc.Retr(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != msgs[n-1] || pipelined[n] != msgs[n-1] || serial[n] != msgs[n-1] {
			t.Fatalf("message %d differs: pipelined %q, serial %q, retr %q, want %q",
				n, trim([]byte(pipelined[n])), trim([]byte(serial[n])), trim(b), trim([]byte(msgs[n-1])))
		}
	}
	for _, cmd := range pm.commands()[1:] { // after CAPA
		if !strings.HasPrefix(cmd, "RETR ") && cmd != "QUIT" {
			t.Fatalf("unexpected command %q", cmd)
		}
	}
}

func TestRetrPipelinedWindowBounds(t *testing.T) {
	msgs := genMessages(10)
	for _, tc := range []struct{ window, want int }{{0, DefaultWindow}, {-1, DefaultWindow}, {1000, MaxWindow}, {3, 3}} {
		c := dialMailbox(t, &mailbox{msgs: msgs, caps: []string{"PIPELINING"}})
		w, err := c.pipelineWindow(ctx, tc.window)
		if err != nil || w != tc.want {
			t.Errorf("window %d: got %d %v, want %d", tc.window, w, err, tc.want)
		}
	}
}

func TestRetrPipelinedFnError(t *testing.T) {
	msgs := genMessages(100)
	const window = 10
	m := &mailbox{msgs: msgs, caps: []string{"PIPELINING"}}
	c := dialMailbox(t, m)
	boom := errors.New("disk full")
	var seen []int
	err := c.RetrPipelined(ctx, seq(1, 100), window, func(n int, body io.Reader) error {
		seen = append(seen, n)
		if n == 50 {
			io.CopyN(io.Discard, body, 10) // read a little, leave the rest
			return failure.Wrap(failure.LocalIO, boom)
		}
		_, err := io.Copy(io.Discard, body)
		return err
	})
	var me *MessageError
	if !errors.As(err, &me) || me.Num != 50 || !errors.Is(err, boom) {
		t.Fatalf("got %v, want message 50 failed with %v", err, boom)
	}
	if got := err.Error(); got != "pop3: RETR 50: disk full" {
		t.Errorf("error %q", got)
	}
	if failure.KindOf(err) != failure.LocalIO {
		t.Errorf("kind %v: fn's kind must survive", failure.KindOf(err))
	}
	if !slices.Equal(seen, seq(1, 50)) {
		t.Errorf("fn saw %v", seen)
	}
	// The replies in flight were drained: the session is in step.
	n, _, err := c.Stat(ctx)
	if err != nil || n != 100 {
		t.Fatalf("STAT after the failure: %d %v", n, err)
	}
	retrs := 0
	for _, cmd := range m.commands() {
		if strings.HasPrefix(cmd, "RETR ") {
			retrs++
		}
	}
	if retrs < 50 || retrs > 50+window {
		t.Errorf("%d RETRs sent for a run that stopped at 50 with a window of %d", retrs, window)
	}
}

func TestRetrPipelinedErrReply(t *testing.T) {
	msgs := genMessages(20)
	m := &mailbox{msgs: msgs, caps: []string{"PIPELINING"}, retrErr: map[int]string{7: "-ERR [SYS/TEMP] cannot open message"}}
	c := dialMailbox(t, m)
	got, order, err := retrAll(c, seq(1, 20), 8)
	var me *MessageError
	if !errors.As(err, &me) || me.Num != 7 || !IsTemporary(err) || failure.KindOf(err) != failure.Temporary {
		t.Fatalf("got %v", err)
	}
	if got := err.Error(); got != "pop3: RETR 7: -ERR [SYS/TEMP] cannot open message" {
		t.Errorf("error %q", got)
	}
	if !slices.Equal(order, seq(1, 6)) || got[6] != msgs[5] {
		t.Fatalf("delivered %v", order)
	}
	if nums := MessageNums(err); !slices.Equal(nums, []int{7}) {
		t.Errorf("MessageNums %v", nums)
	}
	// Go on after the failed message, as a fetcher would.
	got, _, err = retrAll(c, seq(8, 20), 8)
	if err != nil || got[20] != msgs[19] {
		t.Fatalf("resuming: %v", err)
	}
}

func TestRetrPipelinedConnectionCut(t *testing.T) {
	msgs := genMessages(10)
	m := &mailbox{msgs: msgs, caps: []string{"PIPELINING"}, cutRetr: 4}
	c := dialMailbox(t, m)
	var delivered []int
	err := c.RetrPipelined(ctx, seq(1, 10), 5, func(n int, body io.Reader) error {
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("delivering: %w", err)
		}
		delivered = append(delivered, n)
		return nil
	})
	var me *MessageError
	if !errors.As(err, &me) || me.Num != 4 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "pop3: RETR 4: ") || failure.KindOf(err) != failure.Temporary {
		t.Errorf("error %q, kind %v", err, failure.KindOf(err))
	}
	if !slices.Equal(delivered, seq(1, 3)) {
		t.Errorf("delivered %v: a cut message must not count", delivered)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("session usable after the cut")
	}
}

func TestRetrPipelinedCancelled(t *testing.T) {
	msgs := genMessages(30)
	c := dialMailbox(t, &mailbox{msgs: msgs, caps: []string{"PIPELINING"}})
	cctx, cancel := context.WithCancel(ctx)
	err := c.RetrPipelined(cctx, seq(1, 30), 8, func(n int, body io.Reader) error {
		if n == 5 {
			cancel()
		}
		_, err := io.Copy(io.Discard, body)
		return err
	})
	if !errors.Is(err, context.Canceled) || MessageNums(err) == nil {
		t.Fatalf("got %v", err)
	}
}

func TestDelePipelined(t *testing.T) {
	msgs := genMessages(100)
	const window = 20
	m := &mailbox{msgs: msgs, caps: []string{"PIPELINING"}, requireAhead: window,
		deleErr: map[int]string{13: "-ERR message 13 already deleted", 77: "-ERR [SYS/TEMP] try later"}}
	c := dialMailbox(t, m)
	err := c.DelePipelined(ctx, seq(1, 100), window)
	if nums := MessageNums(err); !slices.Equal(nums, []int{13, 77}) {
		t.Fatalf("MessageNums %v of %v", nums, err)
	}
	if !strings.Contains(err.Error(), "pop3: DELE 13: -ERR message 13 already deleted") ||
		!strings.Contains(err.Error(), "pop3: DELE 77: -ERR [SYS/TEMP] try later") {
		t.Errorf("error %q", err)
	}
	n, _, err := c.Stat(ctx)
	if err != nil || n != 2 {
		t.Fatalf("STAT after DELE: %d %v", n, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if cmds := m.commands(); cmds[len(cmds)-1] != "QUIT" {
		t.Fatalf("last command %q", cmds[len(cmds)-1])
	}
}

func TestDelePipelinedAllGood(t *testing.T) {
	m := &mailbox{msgs: genMessages(5)} // no CAPA: one at a time
	c := dialMailbox(t, m)
	if err := c.DelePipelined(ctx, seq(1, 5), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DelePipelined(ctx, nil, 0); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 0 {
		t.Fatalf("STAT %d %v", n, err)
	}
}

func TestMessageNums(t *testing.T) {
	e1, e2 := &MessageError{Num: 1, Err: io.EOF}, &MessageError{Num: 2, Err: io.EOF}
	for _, tc := range []struct {
		err  error
		want []int
	}{
		{nil, nil},
		{io.EOF, nil},
		{e1, []int{1}},
		{fmt.Errorf("wrapped: %w", e1), []int{1}},
		{errors.Join(e1, e2), []int{1, 2}},
		{fmt.Errorf("wrapped: %w", errors.Join(e2, io.EOF, e1)), []int{2, 1}},
	} {
		if got := MessageNums(tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.err, got, tc.want)
		}
	}
}

// UIDLAndList sends UIDL and LIST together when the server pipelines, and
// one after the other when not; both give what UIDL and List give.
func TestUIDLAndList(t *testing.T) {
	msgs := genMessages(30)
	want := func(t *testing.T, c *Client) ([]MsgUID, []MsgInfo) {
		t.Helper()
		u, err := c.UIDL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return u, l
	}
	for _, tc := range []struct {
		name   string
		m      *mailbox
		noUIDL bool
	}{
		// The server answers UIDL only once LIST has arrived too.
		{"pipelined", &mailbox{msgs: msgs, caps: []string{"UIDL", "PIPELINING"}, requireAhead: 2}, false},
		{"one at a time", &mailbox{msgs: msgs, caps: []string{"UIDL"}}, false},
		{"no CAPA", &mailbox{msgs: msgs}, false},
		{"pipelined, UIDL refused", &mailbox{msgs: msgs, caps: []string{"PIPELINING"}, requireAhead: 2, noUIDL: true}, true},
		{"UIDL refused", &mailbox{msgs: msgs, noUIDL: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.noUIDL = tc.noUIDL
			c := dialMailbox(t, tc.m)
			uidls, hasUIDL, list, err := c.UIDLAndList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if hasUIDL == tc.noUIDL {
				t.Errorf("hasUIDL %v", hasUIDL)
			}
			// The session is in step: the same listings again, one by one.
			tc.m.requireAhead = 0
			if !tc.noUIDL {
				wu, wl := want(t, c)
				if !slices.Equal(uidls, wu) || !slices.Equal(list, wl) {
					t.Errorf("UIDLAndList gave %d UIDLs, %d sizes; want %d, %d", len(uidls), len(list), len(wu), len(wl))
				}
			} else if l, err := c.List(ctx); err != nil || !slices.Equal(list, l) || uidls != nil {
				t.Errorf("UIDL refused: %v %v, %v", uidls, list, err)
			}
			if len(list) != len(msgs) {
				t.Errorf("%d sizes listed, want %d", len(list), len(msgs))
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Capabilities announced before login hold after it (RFC 2449 §5):
// PIPELINING seen before login needs no second CAPA; without it, CAPA is
// asked again after login, where the server may announce it.
func TestPipeliningAfterLogin(t *testing.T) {
	msgs := genMessages(5)
	for _, tc := range []struct {
		caps      []string
		wantCAPAs int
	}{
		{[]string{"USER", "UIDL", "PIPELINING"}, 1},
		{[]string{"USER", "UIDL"}, 2},
	} {
		m := &mailbox{msgs: msgs, caps: tc.caps}
		c := dialMailbox(t, m)
		if _, err := c.Capa(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.User(ctx, "u"); err != nil {
			t.Fatal(err)
		}
		if err := c.Pass(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.UIDLAndList(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := retrAll(c, seq(1, 5), 0); err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		capas := 0
		for _, cmd := range m.commands() {
			if cmd == "CAPA" {
				capas++
			}
		}
		if capas != tc.wantCAPAs {
			t.Errorf("caps %v: %d CAPA commands (%q), want %d", tc.caps, capas, m.commands(), tc.wantCAPAs)
		}
	}
}

// TopPipelined pipelines TOP like RETR; a server that refuses TOP ends it
// at the first message with an *Error, and the session goes on.
func TestTopPipelined(t *testing.T) {
	msgs := genMessages(40)
	m := &mailbox{msgs: msgs, caps: []string{"TOP", "PIPELINING"}, requireAhead: 8}
	c := dialMailbox(t, m)
	var got []int
	err := c.TopPipelined(ctx, seq(1, 40), 0, 8, func(n int, body io.Reader) error {
		b, err := io.ReadAll(body)
		if err == nil && string(b) != msgs[n-1] { // the fake sends whole messages
			t.Errorf("TOP %d: %q", n, trim(b))
		}
		got = append(got, n)
		return err
	})
	if err != nil || !slices.Equal(got, seq(1, 40)) {
		t.Fatalf("TopPipelined: %v, got %v", err, got)
	}
	for _, cmd := range m.commands()[1:] {
		if !strings.HasPrefix(cmd, "TOP ") || !strings.HasSuffix(cmd, " 0") {
			t.Errorf("unexpected command %q", cmd)
		}
	}
	if err := c.TopPipelined(ctx, []int{1}, -1, 8, nil); err == nil {
		t.Error("negative line count accepted")
	}

	refusing := &mailbox{msgs: msgs, caps: []string{"PIPELINING"}, retrErr: map[int]string{}}
	for n := 1; n <= 40; n++ {
		refusing.retrErr[n] = "-ERR no TOP here"
	}
	rc := dialMailbox(t, refusing)
	err = rc.TopPipelined(ctx, seq(1, 40), 0, 8, func(int, io.Reader) error { t.Error("fn called"); return nil })
	var me *MessageError
	var pe *Error
	if !errors.As(err, &me) || me.Num != 1 || !errors.As(err, &pe) {
		t.Fatalf("refused TOP: %v", err)
	}
	if err := rc.Quit(ctx); err != nil {
		t.Errorf("session after refused TOPs: %v", err)
	}
}
