package maildir

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	for _, row := range readTable(t, "names.txt") {
		base := row[0]
		t.Run(base, func(t *testing.T) {
			n, err := ParseName(base)
			if len(row) == 2 {
				if row[1] != "error" {
					t.Fatalf("bad case %q", row)
				}
				if err == nil {
					t.Fatalf("ParseName(%q) = %+v, want an error", base, n)
				}
				return
			}
			if len(row) != 5 {
				t.Fatalf("bad case %q", row)
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", base, err)
			}
			if n.Unique != row[1] || string(n.Flags) != row[2] || n.HasInfo != (row[3] == "yes") {
				t.Errorf("ParseName(%q) = %+v, want Unique %q Flags %q HasInfo %s", base, n, row[1], row[2], row[3])
			}
			if got := n.String(); got != row[4] {
				t.Errorf("ParseName(%q).String() = %q, want %q", base, got, row[4])
			}
		})
	}
}

// FuzzParseName checks that a parsed name writes back to a name that
// parses to the same message and flags, written with ':' and canonical
// flags.
func FuzzParseName(f *testing.F) {
	for _, row := range readTable(f, "names.txt") {
		f.Add(row[0])
	}
	f.Fuzz(func(t *testing.T, base string) {
		n, err := ParseName(base)
		if err != nil {
			return
		}
		if n.Unique == "" || strings.ContainsAny(n.Unique, ":/\x00") || n.Unique[0] == '.' {
			t.Fatalf("ParseName(%q): bad Unique %q", base, n.Unique)
		}
		if ParseFlags(string(n.Flags)) != n.Flags {
			t.Fatalf("ParseName(%q): flags %q not canonical", base, n.Flags)
		}
		s := n.String()
		if !strings.HasPrefix(s, n.Unique) || (n.HasInfo && s[len(n.Unique)] != ':') {
			t.Fatalf("ParseName(%q).String() = %q", base, s)
		}
		m, err := ParseName(s)
		if err != nil {
			t.Fatalf("ParseName(%q) fails on String() %q of ParseName(%q)", s, s, base)
		}
		if m.Unique != n.Unique || m.Flags != n.Flags || m.HasInfo != n.HasInfo || m.String() != s {
			t.Fatalf("round trip of %q: %+v then %+v", base, n, m)
		}
	})
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Flags
	}{
		{"", ""},
		{"S", "S"},
		{"TSRPFD", "DFPRST"},
		{"SSS", "S"},
		{"zaS", "Saz"},
		{"S,F", "FS"},
		{"S F\x00:/é", "FS"},
	}
	for _, tt := range tests {
		if got := ParseFlags(tt.in); got != tt.want {
			t.Errorf("ParseFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	f := ParseFlags("FS")
	if !f.Has('S') || f.Has('R') {
		t.Errorf("Has on %q", f)
	}
	if got := f.With('R'); got != "FRS" {
		t.Errorf("With R = %q", got)
	}
	if got := f.With('S'); got != "FS" {
		t.Errorf("With S = %q", got)
	}
	if got := f.With(','); got != "FS" {
		t.Errorf("With ',' = %q", got)
	}
	if got := f.Without('F'); got != "S" {
		t.Errorf("Without F = %q", got)
	}
	if got := f.Without('T'); got != "FS" {
		t.Errorf("Without T = %q", got)
	}
}

func TestNewUnique(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^\d+\.M\d+P\d+Q\d+R[0-9a-f]{16}\.[^/:!,]+(,S=\d+)?$`)
	seen := map[string]bool{}
	for i := range 1000 {
		u := NewUnique(int64(i) - 1)
		if !re.MatchString(u) {
			t.Fatalf("NewUnique = %q, not of the form <sec>.M<usec>P<pid>Q<n>R<random>.<host>[,S=<size>]", u)
		}
		if seen[u] {
			t.Fatalf("NewUnique returned %q twice", u)
		}
		seen[u] = true
		if n, err := ParseName(u); err != nil || n.Unique != u || n.HasInfo {
			t.Fatalf("ParseName(%q) = %+v, %v", u, n, err)
		}
	}
	if u := NewUnique(-1); strings.Contains(u, ",S=") {
		t.Errorf("NewUnique(-1) = %q has a size", u)
	}
	if u := NewUnique(0); !strings.HasSuffix(u, ",S=0") {
		t.Errorf("NewUnique(0) = %q", u)
	}
	if u := NewUnique(123); !strings.HasSuffix(u, ",S=123") {
		t.Errorf("NewUnique(123) = %q", u)
	}
}

func TestEscapeHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"mail.example.org", "mail.example.org"},
		{"a/b:c", `a\057b\072c`},
		{"x!y,z\\", `x\041y\054z\134`},
		{"nl\n", `nl\012`},
	}
	for _, tt := range tests {
		if got := escapeHost(tt.in); got != tt.want {
			t.Errorf("escapeHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
