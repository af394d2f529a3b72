package peerconf

import (
	"errors"
	"strings"
)

// The peers that are written in Python take some settings as Python
// expressions: getmail's tuples of strings, offlineimap's remotepasseval and
// folderfilter. The import does not run Python: it reads the few simple
// forms that say something exact (a tuple of string literals, a call of
// subprocess with a list of literals, a lambda that tests membership in a
// list of literals) and leaves everything else to a comment.

// pyToken is a token of a Python expression.
type pyToken struct {
	kind byte   // 's' string literal, 'n' name or number, 'p' punctuation
	text string // the string's value, the name, or the punctuation
}

var errNotSimple = errors.New("not a simple Python expression")

// pyTokens splits a Python expression into tokens. Only what the simple
// forms need is known: string literals (with the r, b and u prefixes and
// the common escapes), names, numbers and punctuation.
func pyTokens(s string) ([]pyToken, error) {
	var toks []pyToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isPyNameStart(c):
			j := i
			for j < len(s) && (isPyNameStart(s[j]) || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			word := s[i:j]
			if j < len(s) && (s[j] == '\'' || s[j] == '"') && len(word) <= 2 && strings.Trim(strings.ToLower(word), "rbu") == "" {
				raw := strings.ContainsAny(word, "rR")
				v, n, err := pyString(s[j:], raw)
				if err != nil {
					return nil, err
				}
				toks = append(toks, pyToken{'s', v})
				i = j + n
				continue
			}
			toks = append(toks, pyToken{'n', word})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '_') {
				j++
			}
			toks = append(toks, pyToken{'n', s[i:j]})
			i = j
		case c == '\'' || c == '"':
			v, n, err := pyString(s[i:], false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, pyToken{'s', v})
			i += n
		default:
			p := string(c)
			if i+1 < len(s) && (s[i:i+2] == "==" || s[i:i+2] == "!=") {
				p = s[i : i+2]
			}
			toks = append(toks, pyToken{'p', p})
			i += len(p)
		}
	}
	// Adjacent string literals are one string, as in Python.
	out := toks[:0]
	for _, t := range toks {
		if t.kind == 's' && len(out) > 0 && out[len(out)-1].kind == 's' {
			out[len(out)-1].text += t.text
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

func isPyNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// pyString reads the string literal at the start of s and returns its value
// and length.
func pyString(s string, raw bool) (string, int, error) {
	q := s[:1]
	if strings.HasPrefix(s, strings.Repeat(q, 3)) {
		q = s[:3]
	}
	var b strings.Builder
	for i := len(q); i < len(s); {
		if strings.HasPrefix(s[i:], q) {
			return b.String(), i + len(q), nil
		}
		c := s[i]
		if c == '\n' && len(q) == 1 {
			break
		}
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		if raw {
			b.WriteString(s[i : i+2])
			i += 2
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		default:
			// Python keeps an unknown escape as it is.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", 0, errors.New("a string literal is not closed")
}

// pyStringTuple reads a Python tuple (or list) of string literals, as
// getmail's "tuple of quoted strings" parameters are written:
// ("a", 'b',) or ("a", ). A lone string literal is not a tuple.
func pyStringTuple(s string) ([]string, error) {
	toks, err := pyTokens(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty: write () for an empty tuple")
	}
	items, rest, ok := pyStringList(toks)
	if !ok || len(rest) != 0 {
		return nil, errors.New("not a tuple of quoted strings such as (\"a\", \"b\")")
	}
	return items, nil
}

// pyStringList reads "(" or "[" string-literals ")" or "]" at the start of
// toks. A parenthesised single string without a comma is a string, not a
// tuple, and is refused.
func pyStringList(toks []pyToken) (items []string, rest []pyToken, ok bool) {
	if len(toks) < 2 || toks[0].kind != 'p' || toks[0].text != "(" && toks[0].text != "[" {
		return nil, nil, false
	}
	closer := ")"
	if toks[0].text == "[" {
		closer = "]"
	}
	items = []string{}
	i := 1
	commas := 0
	for i < len(toks) {
		t := toks[i]
		switch {
		case t.kind == 'p' && t.text == closer:
			if closer == ")" && len(items) == 1 && commas == 0 {
				return nil, nil, false
			}
			return items, toks[i+1:], true
		case t.kind == 's' && len(items) == commas:
			items = append(items, t.text)
		case t.kind == 'p' && t.text == "," && len(items) == commas+1:
			commas++
		default:
			return nil, nil, false
		}
		i++
	}
	return nil, nil, false
}

// shellQuote quotes one word for sh: as it is when it needs no quoting,
// else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin turns a program and its arguments into one sh -c command line
// that runs exactly them.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// pyCommand reads offlineimap's remotepasseval when it is one of the common
// simple forms that run a command and use its output, and returns that
// command for sh -c:
//
//	subprocess.check_output(["pass", "show", "x"]).strip()      (or .decode(...), .rstrip(...), .splitlines()[0], ...)
//	subprocess.check_output("pass show x", shell=True)...
//	subprocess.getoutput("pass show x")
//	subprocess.run([...], capture_output=True, text=True).stdout.strip()
//	os.popen("pass show x").read().strip()
//
// Whatever follows the call may only take the first line and trim it,
// which is what mailfetch does with a password-command's output.
func pyCommand(expr string) (string, error) {
	toks, err := pyTokens(expr)
	if err != nil {
		return "", err
	}
	name, i := pyDotted(toks)
	var cmd string
	switch name {
	case "subprocess.check_output", "subprocess.run", "subprocess.getoutput", "os.popen":
	default:
		return "", errNotSimple
	}
	if i >= len(toks) || toks[i].text != "(" {
		return "", errNotSimple
	}
	i++
	// The command: a string, or a list or tuple of strings.
	var argv []string
	isString := false
	switch {
	case i < len(toks) && toks[i].kind == 's':
		cmd, isString = toks[i].text, true
		i++
	default:
		items, rest, ok := pyStringList(toks[i:])
		if !ok || len(items) == 0 {
			return "", errNotSimple
		}
		argv = items
		i = len(toks) - len(rest)
	}
	shell := name == "subprocess.getoutput" || name == "os.popen"
	capture := name != "subprocess.run"
	for i < len(toks) && toks[i].text == "," {
		i++
		if i < len(toks) && toks[i].text == ")" {
			break
		}
		if i+2 >= len(toks) || toks[i].kind != 'n' || toks[i+1].text != "=" {
			return "", errNotSimple
		}
		kw := toks[i].text
		i += 2
		val := toks[i].text
		if toks[i].kind == 'n' {
			// A name, a number or a dotted name such as subprocess.DEVNULL.
			var n int
			val, n = pyDotted(toks[i:])
			i += n
		} else {
			i++
		}
		switch kw {
		case "shell":
			shell = val == "True"
		case "capture_output":
			capture = capture || val == "True"
		case "text", "universal_newlines", "check", "encoding", "stderr":
		default:
			return "", errNotSimple
		}
	}
	if i >= len(toks) || toks[i].text != ")" || !capture {
		return "", errNotSimple
	}
	i++
	if name == "subprocess.run" {
		if i+1 >= len(toks) || toks[i].text != "." || toks[i+1].text != "stdout" {
			return "", errNotSimple
		}
		i += 2
	}
	if name == "os.popen" {
		if i+3 >= len(toks) || toks[i].text != "." || toks[i+1].text != "read" || toks[i+2].text != "(" || toks[i+3].text != ")" {
			return "", errNotSimple
		}
		i += 4
	}
	if !pyFirstLineSuffix(toks[i:]) {
		return "", errNotSimple
	}
	switch {
	case isString && shell:
		return cmd, nil
	case isString:
		return shellQuote(cmd), nil // a program without arguments
	case shell:
		// shell=True with a list runs the first item as the script.
		return argv[0], nil
	}
	return shellJoin(argv), nil
}

// pyDotted reads a dotted name (a.b.c) at the start of toks and returns it
// and the number of tokens it took.
func pyDotted(toks []pyToken) (string, int) {
	if len(toks) == 0 || toks[0].kind != 'n' {
		return "", 0
	}
	name, i := toks[0].text, 1
	for i+1 < len(toks) && toks[i].text == "." && toks[i+1].kind == 'n' {
		name += "." + toks[i+1].text
		i += 2
	}
	return name, i
}

// pyFirstLineSuffix reports whether toks is a chain of method calls that
// only decode, trim and take the first line: .decode(...), .strip(...),
// .rstrip(...), .splitlines()[0], .split("\n")[0].
func pyFirstLineSuffix(toks []pyToken) bool {
	for i := 0; i < len(toks); {
		if toks[i].text != "." || i+3 >= len(toks) || toks[i+1].kind != 'n' || toks[i+2].text != "(" {
			return false
		}
		method := toks[i+1].text
		j := i + 3
		var args []pyToken
		for j < len(toks) && toks[j].text != ")" {
			args = append(args, toks[j])
			j++
		}
		if j >= len(toks) {
			return false
		}
		j++
		for _, a := range args {
			if a.kind != 's' {
				return false
			}
		}
		switch method {
		case "decode", "strip", "rstrip":
		case "splitlines", "split":
			if j+2 >= len(toks) || toks[j].text != "[" || toks[j+1].text != "0" || toks[j+2].text != "]" {
				return false
			}
			if method == "split" && (len(args) != 1 || args[0].text != "\n") {
				return false
			}
			j += 3
		default:
			return false
		}
		i = j
	}
	return true
}

// pyFolderFilter reads offlineimap's folderfilter when it is a lambda that
// tests the folder name against literals:
//
//	lambda f: f in ['INBOX', 'Sent']       → ["INBOX", "Sent"]
//	lambda f: f not in ['Trash', 'Spam']   → ["*", "!Trash", "!Spam"]
//	lambda f: f == 'INBOX'                  → ["INBOX"]
//	lambda f: f != 'Trash'                  → ["*", "!Trash"]
//
// A name that mailfetch would read as a pattern (with '*' or '%', or
// starting with '!') makes it not simple.
func pyFolderFilter(expr string) ([]string, error) {
	toks, err := pyTokens(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) < 5 || toks[0].text != "lambda" || toks[1].kind != 'n' || toks[2].text != ":" || toks[3].text != toks[1].text {
		return nil, errNotSimple
	}
	rest := toks[4:]
	var names []string
	negate := false
	switch {
	case len(rest) == 2 && (rest[0].text == "==" || rest[0].text == "!=") && rest[1].kind == 's':
		names, negate = []string{rest[1].text}, rest[0].text == "!="
	case len(rest) >= 2 && rest[0].text == "in":
		items, tail, ok := pyStringList(rest[1:])
		if !ok || len(tail) != 0 {
			return nil, errNotSimple
		}
		names = items
	case len(rest) >= 3 && rest[0].text == "not" && rest[1].text == "in":
		items, tail, ok := pyStringList(rest[2:])
		if !ok || len(tail) != 0 {
			return nil, errNotSimple
		}
		names, negate = items, true
	default:
		return nil, errNotSimple
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "*%") || strings.HasPrefix(n, "!") {
			return nil, errNotSimple
		}
	}
	if !negate {
		return names, nil
	}
	out := []string{"*"}
	for _, n := range names {
		out = append(out, "!"+n)
	}
	return out, nil
}

// pyStringLiteral reports whether expr is one string literal, and its value.
func pyStringLiteral(expr string) (string, bool) {
	toks, err := pyTokens(expr)
	if err != nil || len(toks) != 1 || toks[0].kind != 's' {
		return "", false
	}
	return toks[0].text, true
}
