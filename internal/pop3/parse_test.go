package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// Reply-parsing cases live under testdata/<kind>/*.txt, one txtar archive per
// case, shared by TestReplyCases and the fuzz targets (as seeds):
//
//	free text describing the case
//	maxline: 40          (optional: the line bound under test)
//	maxtotal: 100        (optional: the listing bound under test)
//	-- input --
//	+OK 2 messages\r\n   (server bytes; literal newlines are ignored, and
//	                      \r \n \t \\ \xHH are escapes)
//	-- want --           (the rendered result), or
//	-- error --          ("fatal: text" or "invalid: text", a substring of
//	                      the error expected)
//	-- rest --           (body only: the bytes left unread after the terminator)
type replyCase struct {
	name     string
	input    []byte
	maxLine  int
	maxTotal int64
	want     *string
	wantErr  *string
	rest     *[]byte
}

var caseKinds = []string{"status", "stat", "body", "list", "uidl", "capa"}

func loadCases(t testing.TB, kind string) []replyCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", kind, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no cases in testdata/%s", kind)
	}
	var cases []replyCase
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rc := replyCase{name: filepath.Base(f)}
		for _, l := range strings.Split(string(ar.Comment), "\n") {
			if v, ok := strings.CutPrefix(l, "maxline:"); ok {
				if rc.maxLine, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			if v, ok := strings.CutPrefix(l, "maxtotal:"); ok {
				if rc.maxTotal, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
		}
		for _, file := range ar.Files {
			switch file.Name {
			case "input":
				rc.input = decodeEscaped(t, file.Data)
			case "want":
				s := string(decodeEscaped(t, file.Data))
				if kind != "body" {
					s = string(file.Data) // listings: one result per line, as written
				}
				rc.want = &s
			case "error":
				s := strings.TrimSpace(string(file.Data))
				rc.wantErr = &s
			case "rest":
				b := decodeEscaped(t, file.Data)
				rc.rest = &b
			default:
				t.Fatalf("%s: unknown section %q", f, file.Name)
			}
		}
		if rc.input == nil || (rc.want == nil) == (rc.wantErr == nil) {
			t.Fatalf("%s: want an input section and exactly one of want or error", f)
		}
		cases = append(cases, rc)
	}
	return cases
}

// decodeEscaped turns a section into bytes: literal newlines only lay the
// text out; \r \n \t \\ and \xHH stand for bytes.
func decodeEscaped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\n' {
			continue
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			t.Fatalf("trailing backslash in %q", b)
		}
		switch b[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(b) {
				t.Fatalf("short \\x escape in %q", b)
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				t.Fatalf("bad \\x escape in %q", b)
			}
			out = append(out, byte(v))
			i += 2
		default:
			t.Fatalf("unknown escape \\%c in %q", b[i], b)
		}
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

// parseResult is what a runner makes of a case's input: a rendering of the
// result, or an error that is fatal (session out of step) or merely invalid.
type parseResult struct {
	got   string
	err   error
	fatal bool
	rest  []byte
}

func (r parseResult) errString() string {
	if r.fatal {
		return "fatal: " + r.err.Error()
	}
	return "invalid: " + r.err.Error()
}

func newLineReader(in []byte, bufSize, maxLine int) *lineReader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &lineReader{br: bufio.NewReaderSize(bytes.NewReader(in), bufSize), max: maxLine}
}

// runCase parses in as a reply of the given kind, the way the Client does.
// Zero bounds take the defaults.
func runCase(kind string, in []byte, maxLine int, maxTotal int64) parseResult {
	if maxTotal <= 0 {
		maxTotal = DefaultMaxListing
	}
	switch kind {
	case "status":
		line, err := newLineReader(in, 16, maxLine).readLine()
		if err != nil {
			return parseResult{err: err, fatal: true}
		}
		st, err := parseStatus(line)
		if err != nil {
			return parseResult{err: err, fatal: true}
		}
		return parseResult{got: fmt.Sprintf("ok=%v code=%q text=%q\n", st.ok, st.code, sanitize(st.text))}
	case "stat":
		n, size, err := parseStat(in)
		if err != nil {
			return parseResult{err: err}
		}
		return parseResult{got: fmt.Sprintf("%d %d\n", n, size)}
	case "body":
		return runBody(in, 16, 7, maxLine)
	case "list":
		var p listParser
		return runListing(in, maxLine, maxTotal, p.add, func() string {
			var b strings.Builder
			for _, m := range p.list {
				fmt.Fprintf(&b, "%d %d\n", m.Num, m.Size)
			}
			return b.String()
		})
	case "uidl":
		var p uidlParser
		return runListing(in, maxLine, maxTotal, p.add, func() string {
			var b strings.Builder
			for _, m := range p.list {
				fmt.Fprintf(&b, "%d %s\n", m.Num, m.UID)
			}
			return b.String()
		})
	case "capa":
		var p capaParser
		return runListing(in, maxLine, maxTotal, p.add, func() string {
			var b strings.Builder
			for _, name := range p.caps.Names() {
				b.WriteString(strings.Join(append([]string{name}, p.caps.Args(name)...), " "))
				b.WriteString("\n")
			}
			return b.String()
		})
	}
	panic("unknown kind " + kind)
}

func runListing(in []byte, maxLine int, maxTotal int64, add func([]byte) error, render func() string) parseResult {
	invalid, err := readMultiline(newLineReader(in, 16, maxLine), maxTotal, add)
	switch {
	case err != nil:
		return parseResult{err: err, fatal: true}
	case invalid != nil:
		return parseResult{err: invalid}
	}
	return parseResult{got: render()}
}

// runBody reads in through a dotReader over a bufio.Reader of bufSize with
// reads of readSize bytes.
func runBody(in []byte, bufSize, readSize, maxLine int) parseResult {
	if maxLine <= 0 {
		maxLine = DefaultMaxMessageLine
	}
	src := bytes.NewReader(in)
	br := bufio.NewReaderSize(src, bufSize)
	ends := 0
	d := newDotReader(br, maxLine, func(err error) error { ends++; return err })
	var out bytes.Buffer
	buf := make([]byte, readSize)
	var err error
	for {
		var n int
		n, err = d.Read(buf)
		if n < 0 || n > len(buf) {
			panic("bad count")
		}
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if ends != 1 {
		panic(fmt.Sprintf("onEnd called %d times", ends))
	}
	rest, _ := io.ReadAll(br)
	if errors.Is(err, io.EOF) {
		return parseResult{got: out.String(), rest: rest}
	}
	return parseResult{got: out.String(), err: err, fatal: true}
}

func TestReplyCases(t *testing.T) {
	for _, kind := range caseKinds {
		for _, rc := range loadCases(t, kind) {
			t.Run(kind+"/"+rc.name, func(t *testing.T) {
				r := runCase(kind, rc.input, rc.maxLine, rc.maxTotal)
				if rc.wantErr != nil {
					if r.err == nil {
						t.Fatalf("no error; got %q", r.got)
					}
					if !strings.Contains(r.errString(), *rc.wantErr) {
						t.Fatalf("error %q, want it to contain %q", r.errString(), *rc.wantErr)
					}
					return
				}
				if r.err != nil {
					t.Fatalf("error %s", r.errString())
				}
				if r.got != *rc.want {
					t.Fatalf("got\n%q\nwant\n%q", r.got, *rc.want)
				}
				if rc.rest != nil && !bytes.Equal(r.rest, *rc.rest) {
					t.Fatalf("left unread %q, want %q", r.rest, *rc.rest)
				}
				if kind == "body" {
					// Every buffer and read size gives the same bytes.
					for _, bufSize := range []int{16, 17, 64, 4096} {
						for _, readSize := range []int{1, 2, 3, 5, 64, 1 << 16} {
							r2 := runBody(rc.input, bufSize, readSize, rc.maxLine)
							if r2.err != nil || r2.got != r.got || !bytes.Equal(r2.rest, r.rest) {
								t.Fatalf("buffer %d, reads of %d: got %q, %v, rest %q", bufSize, readSize, r2.got, r2.err, r2.rest)
							}
						}
					}
				}
			})
		}
	}
}

// TestCaseFilesAreUsed guards against a case directory nobody reads.
func TestCaseFilesAreUsed(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && d.Name() != "fuzz" && !slices.Contains(caseKinds, d.Name()) {
			t.Errorf("testdata/%s is not a known case kind", d.Name())
		}
	}
}
