package maildir

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readTable reads a tab-separated case file of testdata/: one case a line,
// '#' comments and blank lines skipped. A field that starts with '"' is a
// Go string literal; "-" is the empty string.
func readTable(tb testing.TB, name string) [][]string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		for i, fld := range fields {
			switch {
			case fld == "-":
				fields[i] = ""
			case strings.HasPrefix(fld, `"`):
				s, err := strconv.Unquote(fld)
				if err != nil {
					tb.Fatalf("testdata/%s:%d: field %d: %v", name, line, i+1, err)
				}
				fields[i] = s
			}
		}
		rows = append(rows, fields)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(rows) == 0 {
		tb.Fatalf("testdata/%s: no cases", name)
	}
	return rows
}
