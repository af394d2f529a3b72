package peerconf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// fuzzImport checks one input of a peer: the import never panics; an error
// is a *SyntaxError of one line that names the file and a line of it; an
// import that succeeds writes TOML that go-toml reads.
func fuzzImport(t *testing.T, peer string, data []byte) {
	const file = "/home/me/config"
	res, err := importData(peer, []string{file}, [][]byte{data}, testEnv)
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
		}
		msg := err.Error()
		lines := bytes.Count(data, []byte("\n")) + 1
		if se.File != file || se.Line < 0 || se.Line > lines || strings.Contains(msg, "\n") ||
			!strings.HasPrefix(msg, file+":") || se.Line > 0 && !strings.HasPrefix(msg, fmt.Sprintf("%s:%d: ", file, se.Line)) {
			t.Fatalf("error %q (line %d of %d)", msg, se.Line, lines)
		}
		return
	}
	var out bytes.Buffer
	if err := res.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := toml.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("output is not TOML: %v\n%s", err, out.Bytes())
	}
	_ = res.Warnings()
}

// addSeeds adds the inputs of the peer's test cases.
func addSeeds(f *testing.F, peer string) {
	for _, c := range cases(f) {
		if c.peer == peer {
			for _, d := range c.data {
				f.Add(d)
			}
		}
	}
}

func FuzzMBSync(f *testing.F) {
	addSeeds(f, "mbsync")
	f.Add([]byte("IMAPAccount a\nHost \"x\nUser u\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, "mbsync", data) })
}

func FuzzOfflineIMAP(f *testing.F) {
	addSeeds(f, "offlineimap")
	f.Add([]byte("[general]\naccounts = a\n[Account a]\nlocalrepository = %(x)s\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, "offlineimap", data) })
}

func FuzzGetmail(f *testing.F) {
	addSeeds(f, "getmail")
	f.Add([]byte("[retriever]\ntype = SimpleIMAPRetriever\nserver = s\nusername = u\nmailboxes = (\"a\",\n  'b')\n[destination]\ntype = MultiDestination\ndestinations = ('[x]',)\n[x]\ntype = Maildir\npath = ~/M/\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, "getmail", data) })
}

func FuzzFetchmail(f *testing.F) {
	addSeeds(f, "fetchmail")
	f.Add([]byte("poll a user b is c d=e here pass \"\\x4\" mda '%T %F'"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, "fetchmail", data) })
}

func FuzzMPOP(f *testing.F) {
	addSeeds(f, "mpop")
	f.Add([]byte("defaults\ntls\naccount a : \nhost h\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzImport(t, "mpop", data) })
}

// FuzzPython checks the Python readers on any expression: no panic.
func FuzzPython(f *testing.F) {
	for _, s := range []string{
		`subprocess.check_output(["pass", "show", "x"]).decode().strip()`,
		`os.popen("x").read().split("\n")[0]`,
		`lambda f: f not in ['a', "b"]`,
		`("a", r'b\d', """c""",)`,
		`subprocess.run(["x"], stderr=subprocess.DEVNULL, capture_output=True).stdout`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = pyCommand(s)
		_, _ = pyFolderFilter(s)
		_, _ = pyStringTuple(s)
		_, _ = pyStringLiteral(s)
	})
}
