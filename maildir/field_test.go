package maildir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFieldRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "a b", "%", "100%", "x\ny", "Entwürfe", "\x00\x7f~!", "%41"} {
		enc := EncodeField(s)
		if strings.ContainsAny(enc, " \n") || enc == "" {
			t.Errorf("EncodeField(%q) = %q: not one field", s, enc)
		}
		dec, err := DecodeField(enc)
		if err != nil || dec != s {
			t.Errorf("DecodeField(EncodeField(%q)) = %q, %v", s, dec, err)
		}
	}
	for _, bad := range []string{"", "%4", "%4a", "%41", "a\x01", "ü"} {
		if _, err := DecodeField(bad); err == nil {
			t.Errorf("DecodeField(%q) accepted a spelling EncodeField never makes", bad)
		}
	}
}

func FuzzField(f *testing.F) {
	for _, s := range []string{"", "abc", "a b%", "Entwürfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := DecodeField(EncodeField(s))
		if err != nil || dec != s {
			t.Fatalf("round trip of %q: %q, %v", s, dec, err)
		}
		if d, err := DecodeField(s); err == nil && EncodeField(d) != s {
			t.Fatalf("%q decodes to %q, which encodes to %q: two spellings", s, d, EncodeField(d))
		}
	})
}

func TestReadJournalLeavesTheFileAlone(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "j")
	if _, err := ReadJournal(path); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing journal: %v", err)
	}
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	torn := append(mustRead(t, path), []byte("0000")...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadJournal(path)
	if err != nil || len(recs) != 2 || string(recs[0]) != "one" || string(recs[1]) != "two" {
		t.Fatalf("ReadJournal = %q, %v", recs, err)
	}
	if got := mustRead(t, path); string(got) != string(torn) {
		t.Fatal("ReadJournal changed the file")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
