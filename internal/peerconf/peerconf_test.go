package peerconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/mailfetch/mailfetch/internal/config"
)

var update = flag.Bool("update", false, "rewrite the want.toml sections of testdata/*/*.txtar")

// The test cases are testdata/PEER/*.txtar, each a realistic config of the
// peer (written from its manual) and what the import must make of it:
//
//	-- input -- (getmail: one section per rc file, named getmailrc*)
//	-- accounts.json --  the accounts config.Load must find in the output:
//	                     [{"name": ..., KEY: VALUE, ...}], values as strings,
//	                     folders joined with "|", "disabled": "true" for an
//	                     account written commented out
//	-- secrets --        strings that must appear nowhere in the output
//	-- unmapped --       options that must be named in a "# PEER: OPTION" comment
//	-- warnings --       lines that must be among Result.Warnings
//	-- load-error --     instead of accounts.json: config.Load must refuse the
//	                     output with this error, as it needs a decision
//	-- want.toml --      the whole output (go test -update rewrites it)

// testEnv is the environment of every case: paths in the output are
// checked after config.Load expands "~/" with this home.
var testEnv = Env{Home: "/home/me", User: "me"}

type testCase struct {
	name    string
	peer    string
	path    string
	archive *txtar.Archive
	files   []string
	data    [][]byte
}

func (c *testCase) section(name string) ([]byte, bool) {
	for _, f := range c.archive.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// cases reads every testdata/PEER/*.txtar.
func cases(t testing.TB) []*testCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/*/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	var out []*testCase
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := &testCase{name: strings.TrimSuffix(p, ".txtar"), peer: filepath.Base(filepath.Dir(p)), path: p, archive: a}
		for _, f := range a.Files {
			if f.Name == "input" || strings.HasPrefix(f.Name, "getmailrc") {
				name := "/home/me/." + c.peer + "rc"
				if f.Name != "input" {
					name = "/home/me/.getmail/" + f.Name
				}
				c.files = append(c.files, name)
				c.data = append(c.data, f.Data)
			}
		}
		if len(c.files) == 0 {
			t.Fatalf("%s: no input", p)
		}
		out = append(out, c)
	}
	return out
}

func TestImport(t *testing.T) {
	t.Setenv("HOME", testEnv.Home)
	t.Setenv("XDG_STATE_HOME", "")
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			res, err := importData(c.peer, c.files, c.data, testEnv)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			var out bytes.Buffer
			if err := res.WriteTOML(&out); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c, out.Bytes())
			if want, ok := c.section("load-error"); ok {
				// The output is refused on purpose: the user must decide.
				p := filepath.Join(t.TempDir(), "config.toml")
				if err := os.WriteFile(p, out.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				_, err := config.Load(p)
				if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(want))) {
					t.Errorf("config.Load of the output: %v, want an error containing %q", err, want)
				}
			} else {
				cfg := loadOutput(t, out.Bytes())
				checkAccounts(t, c, cfg, out.String())
			}
			checkSecrets(t, c, out.String(), res.Warnings())
			checkUnmapped(t, c, out.String())
			checkWarnings(t, c, res.Warnings())
		})
	}
}

func checkGolden(t *testing.T, c *testCase, got []byte) {
	t.Helper()
	want, ok := c.section("want.toml")
	if *update {
		if ok {
			for i := range c.archive.Files {
				if c.archive.Files[i].Name == "want.toml" {
					c.archive.Files[i].Data = got
				}
			}
		} else {
			c.archive.Files = append(c.archive.Files, txtar.File{Name: "want.toml", Data: got})
		}
		if err := os.WriteFile(c.path, txtar.Format(c.archive), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !ok {
		t.Fatalf("no want.toml section: run go test -update")
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from want.toml (go test -update rewrites it):\n%s", diffLines(string(want), string(got)))
	}
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, wl, gl)
		}
	}
	return ""
}

// loadOutput writes the output as a config file (mode 0600, as the
// header tells) and loads it with mailfetch's own loader.
func loadOutput(t *testing.T, out []byte) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("config.Load of the output: %v\n%s", err, out)
	}
	return cfg
}

// accountValue is the value of a config key of a loaded account, as the
// test cases write it.
func accountValue(a *config.Account, key string) string {
	switch key {
	case "protocol":
		return a.Protocol
	case "host":
		return a.Host
	case "port":
		return strconv.Itoa(a.Port)
	case "tls":
		return a.TLS
	case "ca-file":
		return a.CAFile
	case "fingerprint":
		return a.Fingerprint
	case "allow-plaintext":
		return strconv.FormatBool(a.AllowPlaintext)
	case "user":
		return a.User
	case "auth":
		return a.Auth
	case "password-command":
		return a.PasswordCommand
	case "password-file":
		return a.PasswordFile
	case "maildir":
		return a.Maildir
	case "layout":
		return a.Layout
	case "mda":
		return a.MDA
	case "timeout":
		return a.Timeout.String()
	case "keep":
		return strconv.FormatBool(a.Keep)
	case "delete-after":
		return strconv.Itoa(a.DeleteAfter)
	case "max-size":
		return strconv.FormatInt(a.MaxSize, 10)
	case "max-messages":
		return strconv.Itoa(a.MaxMessages)
	case "folders":
		return strings.Join(a.Folders, "|")
	case "jobs":
		return strconv.Itoa(a.Jobs)
	case "expunge-remote":
		return strconv.FormatBool(a.ExpungeRemote)
	}
	return "unknown key " + key
}

func checkAccounts(t *testing.T, c *testCase, cfg *config.Config, out string) {
	t.Helper()
	data, ok := c.section("accounts.json")
	if !ok {
		t.Fatal("no accounts.json section")
	}
	var want []map[string]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("accounts.json: %v", err)
	}
	var enabled []string
	for _, w := range want {
		name := w["name"]
		if w["disabled"] == "true" {
			if !strings.Contains(out, "\n# [account."+tomlKey(name)+"]\n") {
				t.Errorf("account %q is not written commented out", name)
			}
			continue
		}
		enabled = append(enabled, name)
		i := slices.IndexFunc(cfg.Accounts, func(a *config.Account) bool { return a.Name == name })
		if i < 0 {
			t.Errorf("account %q not loaded", name)
			continue
		}
		a := cfg.Accounts[i]
		for key, v := range w {
			if key == "name" {
				continue
			}
			if rest, ok := strings.CutPrefix(v, "~/"); ok {
				v = filepath.Join(testEnv.Home, rest)
			}
			if got := accountValue(a, key); got != v {
				t.Errorf("account %q: %s = %q, want %q", name, key, got, v)
			}
		}
	}
	var got []string
	for _, a := range cfg.Accounts {
		got = append(got, a.Name)
	}
	if !slices.Equal(got, enabled) {
		t.Errorf("loaded accounts %q, want %q", got, enabled)
	}
}

func lines(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func checkSecrets(t *testing.T, c *testCase, out string, warnings []string) {
	t.Helper()
	data, _ := c.section("secrets")
	for _, s := range lines(data) {
		if strings.Contains(out, s) {
			t.Errorf("the output contains the secret %q", s)
		}
		for _, w := range warnings {
			if strings.Contains(w, s) {
				t.Errorf("a warning contains the secret %q: %s", s, w)
			}
		}
	}
}

func checkUnmapped(t *testing.T, c *testCase, out string) {
	t.Helper()
	data, _ := c.section("unmapped")
	for _, opt := range lines(data) {
		re := regexp.MustCompile(`(?m)^(# )?# ` + regexp.QuoteMeta(c.peer) + `: ` + regexp.QuoteMeta(opt) + `[ :]`)
		if !re.MatchString(out) {
			t.Errorf("no comment names the option %q", opt)
		}
	}
}

func checkWarnings(t *testing.T, c *testCase, warnings []string) {
	t.Helper()
	data, _ := c.section("warnings")
	for _, w := range lines(data) {
		if !slices.Contains(warnings, w) {
			t.Errorf("missing warning %q; warnings:\n%s", w, strings.Join(warnings, "\n"))
		}
	}
}

// TestOutputIsTOML checks that every case's output is TOML that go-toml reads,
// comments included.
func TestOutputIsTOML(t *testing.T) {
	for _, c := range cases(t) {
		res, err := importData(c.peer, c.files, c.data, testEnv)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var out bytes.Buffer
		if err := res.WriteTOML(&out); err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := toml.Unmarshal(out.Bytes(), &v); err != nil {
			t.Errorf("%s: output is not TOML: %v", c.name, err)
		}
	}
}

// checkSyntaxError fails unless err is a *SyntaxError for file whose one
// line names the file and, when line > 0, that line.
func checkSyntaxError(t *testing.T, err error, file string, line int, contains string) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *SyntaxError", err, err)
	}
	prefix := file + ":"
	if line > 0 {
		prefix = fmt.Sprintf("%s:%d: ", file, line)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") || !strings.Contains(msg, contains) {
		t.Errorf("error %q, want one line starting %q containing %q", msg, prefix, contains)
	}
}
