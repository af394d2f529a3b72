package ledger

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// recordCases reads testdata/records.txt: each line "ok <payload>" or
// "bad <payload>", with \xHH for bytes that a text file shows badly.
func recordCases(t testing.TB) (ok, bad [][]byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/records.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		verdict, payload, found := strings.Cut(line, " ")
		if !found {
			t.Fatalf("bad case line %q", line)
		}
		rec := unescapeHex(t, payload)
		switch verdict {
		case "ok":
			ok = append(ok, rec)
		case "bad":
			bad = append(bad, rec)
		default:
			t.Fatalf("bad case line %q", line)
		}
	}
	return ok, bad
}

func unescapeHex(t testing.TB, s string) []byte {
	var out []byte
	for {
		i := strings.Index(s, `\x`)
		if i < 0 || i+4 > len(s) {
			return append(out, s...)
		}
		b, err := hex.DecodeString(s[i+2 : i+4])
		if err != nil {
			t.Fatalf("bad escape in %q", s)
		}
		out = append(append(out, s[:i]...), b...)
		s = s[i+4:]
	}
}

func TestRecordCases(t *testing.T) {
	ok, bad := recordCases(t)
	for _, rec := range ok {
		r, err := Parse(rec)
		if err != nil {
			t.Errorf("Parse(%q): %v", rec, err)
			continue
		}
		out, err := r.Bytes()
		if err != nil || !bytes.Equal(out, rec) {
			t.Errorf("Parse(%q) writes back as %q, %v", rec, out, err)
		}
	}
	for _, rec := range bad {
		if r, err := Parse(rec); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", rec, r)
		}
	}
}

func TestRecordDecoding(t *testing.T) {
	r, err := Parse([]byte("P a%20b 17.M1,S=3 FS 12"))
	if err != nil {
		t.Fatal(err)
	}
	want := Intent{ID: "a b", Unique: "17.M1,S=3", Fields: []string{"FS", "12"}}
	if r.Kind != KindIntent || r.Intent.ID != want.ID || r.Intent.Unique != want.Unique || strings.Join(r.Intent.Fields, " ") != "FS 12" {
		t.Errorf("P record read as %+v", r)
	}
	r, err = Parse([]byte("D %C3%A9 1700000000"))
	if err != nil || r.Kind != KindDone || r.Intent.ID != "é" || len(r.Intent.Done) != 1 || r.Intent.Done[0] != "1700000000" {
		t.Errorf("D record read as %+v, %v", r, err)
	}
	r, err = Parse([]byte("V 3"))
	if err != nil || r.Version != 3 {
		t.Errorf("V record read as %+v, %v", r, err)
	}
	r, err = Parse([]byte("M 17 - FS 12"))
	if err != nil || r.Kind != 'M' || strings.Join(r.Fields, "|") != "17|-|FS|12" {
		t.Errorf("engine record read as %+v, %v", r, err)
	}
}

// Writing refuses what could not be read back: a field with a space, an
// empty one, a unique name that is no file name, a missing id.
func TestRecordWriteRefuses(t *testing.T) {
	for _, in := range []Intent{
		{ID: "", Unique: "u"},
		{ID: "x", Unique: ""},
		{ID: "x", Unique: "a/b"},
		{ID: "x", Unique: "u", Fields: []string{"a b"}},
		{ID: "x", Unique: "u", Fields: []string{""}},
		{ID: "x", Unique: "u", Fields: []string{"é"}},
	} {
		if rec, err := IntentRecord(in); err == nil {
			t.Errorf("IntentRecord(%+v) = %q, want an error", in, rec)
		}
	}
	if rec, err := DoneRecord(Intent{ID: "x", Done: []string{"1\n"}}); err == nil {
		t.Errorf("DoneRecord wrote %q", rec)
	}
	if rec, err := Format('x', "1"); err == nil {
		t.Errorf("Format of kind x wrote %q", rec)
	}
	// Ids and unique names are escaped, whatever they hold.
	in := Intent{ID: "a b\n%", Unique: "1.M2.h\\072x,S=9 ü"}
	rec, err := IntentRecord(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(rec)
	if err != nil || r.Intent.ID != in.ID || r.Intent.Unique != in.Unique {
		t.Errorf("%+v wrote %q, read back %+v, %v", in, rec, r, err)
	}
}

func TestIsMDA(t *testing.T) {
	for u, want := range map[string]bool{"-": true, "-0a1b": true, "1700000000.M1P2.h,S=3": false, "x-": false} {
		if IsMDA(u) != want {
			t.Errorf("IsMDA(%q) = %v", u, !want)
		}
	}
}

// FuzzParse: Parse never panics; what it accepts writes back as the same
// bytes (one spelling per record) and reads back the same.
func FuzzParse(f *testing.F) {
	ok, bad := recordCases(f)
	for _, rec := range append(ok, bad...) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := Parse(line)
		if err != nil {
			return
		}
		out, err := r.Bytes()
		if err != nil {
			t.Fatalf("Parse(%q) gave %+v, which does not write: %v", line, r, err)
		}
		if !bytes.Equal(out, line) {
			t.Fatalf("Parse(%q) writes back as %q", line, out)
		}
		if bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("record %q has a line break", out)
		}
	})
}
