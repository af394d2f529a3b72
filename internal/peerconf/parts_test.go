package peerconf

import (
	"slices"
	"strings"
	"testing"
)

func TestPyStringTuple(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: an error
	}{
		{`("a", 'b',)`, []string{"a", "b"}},
		{`("single", )`, []string{"single"}},
		{`()`, []string{}},
		{"(\"multi\",\n    'line')", []string{"multi", "line"}},
		{`("it's", "say \"hi\"", r'\d+', 'tab\there')`, []string{"it's", `say "hi"`, `\d+`, "tab\there"}},
		{`("con" "cat",)`, []string{"concat"}},
		{`("not a tuple")`, nil},
		{`"bare"`, nil},
		{`(1, 2)`, nil},
		{`("a" "b"`, nil},
		{`("unclosed,)`, nil},
		{``, nil},
	} {
		got, err := pyStringTuple(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPyCommand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`subprocess.check_output(["pass", "show", "mail/work"]).strip()`, "pass show mail/work"},
		{`subprocess.check_output(["pass", "show", "mail/work"]).decode("utf-8").rstrip("\n")`, "pass show mail/work"},
		{`subprocess.check_output(['gpg', '-dq', '/home/me/my pass.gpg']).splitlines()[0]`, "gpg -dq '/home/me/my pass.gpg'"},
		{`subprocess.check_output("pass show x | head -1", shell=True).decode().strip()`, "pass show x | head -1"},
		{`subprocess.check_output(["pass", "x"], stderr=subprocess.DEVNULL, text=True).strip()`, "pass x"},
		{`subprocess.getoutput("secret-tool lookup imap me")`, "secret-tool lookup imap me"},
		{`subprocess.run(["pass", "x"], capture_output=True, text=True).stdout.strip()`, "pass x"},
		{`os.popen("gpg -dq ~/.pw.gpg").read().strip()`, "gpg -dq ~/.pw.gpg"},
		{`os.popen('pass show it\'s').read().split("\n")[0]`, "pass show it's"},
		{`subprocess.check_output("mypass")`, "mypass"},
		// Not simple: a function of the pythonfile, a variable, other
		// parts of the output, output not captured.
		{`get_password("imap.example.net")`, ""},
		{`subprocess.check_output(cmd).strip()`, ""},
		{`subprocess.check_output(["pass", "x"]).split()[1]`, ""},
		{`subprocess.check_output(["pass", "x"]).strip() + "suffix"`, ""},
		{`subprocess.run(["pass", "x"]).stdout`, ""},
		{`subprocess.check_output([f"pass {name}"])`, ""},
		{`os.popen("x").readline()`, ""},
		{`subprocess.check_output(["pass", "x"], env=e)`, ""},
	} {
		got, err := pyCommand(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: %q, want not simple", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPyFolderFilter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`lambda foldername: foldername in ['INBOX', 'Sent']`, []string{"INBOX", "Sent"}},
		{`lambda f: f in ("INBOX",)`, []string{"INBOX"}},
		{"lambda foldername: foldername not in ['Trash',\n'Junk']", []string{"*", "!Trash", "!Junk"}},
		{`lambda folder: folder == 'INBOX'`, []string{"INBOX"}},
		{`lambda folder: folder != "Spam"`, []string{"*", "!Spam"}},
		{`lambda f: g in ['INBOX']`, nil},
		{`lambda f: f in ['Lists/*']`, nil},
		{`lambda f: f in ['!important']`, nil},
		{`lambda f: not re.search('Trash', f)`, nil},
		{`lambda f: f in ['INBOX'] or f.startswith('Lists')`, nil},
		{`myfilter`, nil},
	} {
		got, err := pyFolderFilter(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: %q, want not simple", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"pass", "show", "mail/work"}, "pass show mail/work"},
		{[]string{"/usr/bin/secret-tool", "lookup", "a b"}, "/usr/bin/secret-tool lookup 'a b'"},
		{[]string{"echo", "it's", "$HOME", ""}, `echo 'it'\''s' '$HOME' ''`},
	} {
		if got := shellJoin(tc.argv); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.argv, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	const sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, tc := range []struct {
		in, pinned, note string
	}{
		{"9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08", sha256, ""},
		{"SHA256:" + strings.ToUpper(sha256), sha256, ""},
		{"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "", "a SHA-1 fingerprint"},
		{"12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0", "", "an MD5 fingerprint"},
		{"not hex", "", "not a hex fingerprint"},
	} {
		a := &Account{}
		a.setFingerprint("fp", tc.in, 1)
		if a.Fingerprint != tc.pinned {
			t.Errorf("%s: pinned %q, want %q", tc.in, a.Fingerprint, tc.pinned)
		}
		if tc.note != "" && (len(a.Notes) != 1 || !strings.Contains(a.Notes[0].Text, tc.note)) {
			t.Errorf("%s: notes %v, want one saying %q", tc.in, a.Notes, tc.note)
		}
	}
}

func TestParseSync(t *testing.T) {
	all := map[string]bool{"new": true, "renew": true, "delete": true, "flags": true}
	none := map[string]bool{"new": false, "renew": false, "delete": false, "flags": false}
	for _, tc := range []struct {
		args       string
		pull, push map[string]bool
	}{
		{"All", all, all},
		{"Full", all, all},
		{"Pull", all, none},
		{"Push", none, all},
		{"Pull Push", all, all},
		{"New Delete", map[string]bool{"new": true, "delete": true}, map[string]bool{"new": true, "delete": true}},
		{"Pull New Flags", map[string]bool{"new": true, "flags": true}, map[string]bool{"new": false, "flags": false}},
		{"PullNew PullFlags", map[string]bool{"new": true, "flags": true}, map[string]bool{}},
		{"PullNew PullDelete Push", map[string]bool{"new": true, "delete": true}, all},
		{"None", map[string]bool{}, map[string]bool{}},
	} {
		ops := parseSync(strings.Fields(tc.args))
		for _, typ := range mbOpTypes {
			if ops.pull[typ] != tc.pull[typ] || ops.push[typ] != tc.push[typ] {
				t.Errorf("Sync %s: %s pull %v push %v, want pull %v push %v", tc.args, typ, ops.pull[typ], ops.push[typ], tc.pull[typ], tc.push[typ])
			}
		}
	}
}

func TestMBWords(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		comment bool
	}{
		{`Host imap.example.com`, []string{"Host", "imap.example.com"}, false},
		{`  Pass "a b" # comment`, []string{"Pass", "a b"}, false},
		{`Pass a#b`, []string{"Pass", "a#b"}, false},
		{`Pass "say \"hi\" \\ ok"`, []string{"Pass", `say "hi" \ ok`}, false},
		{`Path ~/"Mail dir"/x`, []string{"Path", "~/Mail dir/x"}, false},
		{"   # only a comment", nil, true},
		{"   ", nil, false},
	} {
		got, comment, err := mbWords("f", 1, tc.in)
		if err != nil || !slices.Equal(got, tc.want) || comment != tc.comment {
			t.Errorf("%q: %q comment %v err %v; want %q comment %v", tc.in, got, comment, err, tc.want, tc.comment)
		}
	}
}

// TestFetchmailLexer checks words, quotes, a backslash joining lines in a
// quoted string, comments, punctuation, "no" glued to a keyword, a name
// spelt like a keyword after "user", and the escapes as fetchmail's
// escapes() reads them: \0 starts three octal digits, the 0 among them;
// \65 is decimal.
func TestFetchmailLexer(t *testing.T) {
	toks, err := fmLex("f", []byte("poll \"a b\" user keep pass 'x\\\ny' # comment\n  is jj here; options ssl,keep nokeep pass \"\\x41\\65\\0101\\t\""))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range toks {
		got = append(got, string(tk.kind)+":"+tk.text)
	}
	want := []string{"k:poll", "s:a b", "k:user", "s:keep", "k:pass", "s:xy", "k:is", "s:jj", "k:here", "k:ssl", "k:keep", "k:no", "k:keep", "k:pass", "s:AA\b1\t"}
	if !slices.Equal(got, want) {
		t.Errorf("tokens %q,\nwant %q", got, want)
	}
	if toks[7].line != 3 {
		t.Errorf("jj on line %d, want 3", toks[7].line)
	}
}

func TestINIContinuation(t *testing.T) {
	f, err := parseINI("f", []byte("[s]\nkey = first\n  second\n\n  third\n# not part of it\nother: v\n  [not a section]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := f.section("s")
	if got := s.get("key").value; got != "first\nsecond\n\nthird" {
		t.Errorf("key = %q", got)
	}
	if got := s.get("other").value; got != "v\n[not a section]" {
		t.Errorf("other = %q", got)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"~/Mail/work/": "~/Mail/work",
		"~me/Mail":     "~/Mail",
		"~bob/Mail":    "~bob/Mail",
		"/":            "/",
		"/srv/mail//":  "/srv/mail",
	} {
		if got := localPath(in, testEnv); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := expandVars("${HOME}/Mail"); got != "~/Mail" {
		t.Errorf("expandVars: %q", got)
	}
}

// TestUnknownOptions: an option the import does not know (a newer peer's,
// or a typo the peer would refuse) becomes a comment, not an error, and
// isync 1.5's TLSType is read like SSLType.
func TestUnknownOptions(t *testing.T) {
	for _, tc := range []struct{ peer, input, comment string }{
		{"mpop", "account a\nhost h\nuser u\nfrobnicate yes\ndelivery maildir ~/M\n", "# mpop: frobnicate yes (line 4): not an mpop command this import knows"},
		{"mbsync", "IMAPStore r\nHost h\nUser u\nTLSType STARTTLS\nFrobnicate yes\n\nMaildirStore l\nInbox ~/M\n\nChannel c\nFar :r:\nNear :l:\n",
			"# mbsync: Frobnicate yes (line 5): not a store option this import knows"},
		{"offlineimap", "[general]\naccounts = a\nfrobnicate = yes\n[Account a]\nlocalrepository = l\nremoterepository = r\n" +
			"[Repository l]\ntype = Maildir\nlocalfolders = ~/M\n[Repository r]\ntype = IMAP\nremotehost = h\nremoteuser = u\n",
			"# offlineimap: frobnicate yes (line 3): no equivalent in mailfetch"},
	} {
		res, err := importData(tc.peer, []string{"f"}, [][]byte{[]byte(tc.input)}, testEnv)
		if err != nil {
			t.Errorf("%s: %v", tc.peer, err)
			continue
		}
		var out strings.Builder
		if err := res.WriteTOML(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.comment) {
			t.Errorf("%s: no comment %q in\n%s", tc.peer, tc.comment, out.String())
		}
		if tc.peer == "mbsync" && !strings.Contains(out.String(), `tls = "starttls"`) {
			t.Errorf("TLSType STARTTLS not read:\n%s", out.String())
		}
	}
}
