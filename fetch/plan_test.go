package fetch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMakePlan(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1700000000, 0)
	day := 24 * time.Hour
	msgs := []serverMsg{
		{1, "a", 100}, // done 10 days ago
		{2, "b", 200}, // done 1 day ago
		{3, "c", 300}, // new
		{4, "d", 5000},
		{5, "e", 400}, // new
		{6, "", 50},   // no UIDL
	}
	st := replay([][]byte{
		[]byte("D a " + fmt.Sprint(t0.Add(-10*day).Unix())),
		[]byte("D b " + fmt.Sprint(t0.Add(-1*day).Unix())),
	})
	show := func(p plan) string {
		var b strings.Builder
		for _, m := range p.fetch {
			fmt.Fprintf(&b, "F%d", m.Num)
			if m.dele {
				b.WriteString("d")
			}
			b.WriteString(" ")
		}
		for _, m := range p.dele {
			fmt.Fprintf(&b, "D%d ", m.Num)
		}
		for _, m := range p.skipped {
			fmt.Fprintf(&b, "S%d ", m.Num)
		}
		if p.limited > 0 {
			fmt.Fprintf(&b, "L%d", p.limited)
		}
		return strings.TrimSpace(b.String())
	}
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"delete", Options{}, "F3d F4d F5d F6d D1 D2"},
		{"delete max-size", Options{MaxSize: 1000}, "F3d F5d F6d D1 D2 S4"},
		{"delete max-messages", Options{MaxMessages: 2}, "F3d F4d D1 D2 L2"},
		{"delete all", Options{All: true}, "F1d F2d F3d F4d F5d F6d"},
		{"keep", Options{Keep: true}, "F3 F4 F5 F6"},
		{"keep delete-after", Options{Keep: true, DeleteAfter: 5 * day}, "F3 F4 F5 F6 D1"},
		{"keep all delete-after", Options{Keep: true, All: true, DeleteAfter: 5 * day}, "F1d F2 F3 F4 F5 F6"},
		{"keep max-size max-messages", Options{Keep: true, MaxSize: 1000, MaxMessages: 1}, "F3 S4 L2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := show(makePlan(msgs, st, nil, tc.opt, t0)); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJoinListing(t *testing.T) {
	t.Parallel()
	msgs, dups := joinListing(map[int]int64{1: 10, 2: 20, 3: 30, 4: 40}, map[int]string{1: "x", 2: "y", 3: "x", 5: "z"})
	want := []serverMsg{{1, "", 10}, {2, "y", 20}, {3, "", 30}, {4, "", 40}, {5, "z", 0}}
	if fmt.Sprint(msgs) != fmt.Sprint(want) || fmt.Sprint(dups) != "[x]" {
		t.Errorf("got %v %v, want %v [x]", msgs, dups, want)
	}
	msgs, dups = joinListing(map[int]int64{2: 20, 1: 10}, nil)
	if fmt.Sprint(msgs) != "[{1  10} {2  20}]" || dups != nil {
		t.Errorf("no UIDL: got %v %v", msgs, dups)
	}
}
