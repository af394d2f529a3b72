package peerconf

import (
	"fmt"
	"strings"
)

// iniFile is a file in the format of Python's configparser, which both
// offlineimap and getmail read: "[section]" headers, "key = value" or
// "key: value" options, whole-line comments starting with '#' or ';', and
// values continued on lines indented deeper than their key. Option names
// are case-insensitive (configparser lowers them); section names are not.
// A section or option defined twice is an error, as configparser's strict
// mode (the default of both peers) makes it.
type iniFile struct {
	path     string
	sections []*iniSection
	defaults *iniSection // [DEFAULT], inherited by every section; nil if absent
}

type iniSection struct {
	name    string
	line    int
	options []*iniOption
}

type iniOption struct {
	key   string // lower case
	value string // continuation lines joined with "\n", trailing blank lines dropped
	line  int
}

func (s *iniSection) get(key string) *iniOption {
	if s == nil {
		return nil
	}
	for _, o := range s.options {
		if o.key == key {
			return o
		}
	}
	return nil
}

func (f *iniFile) section(name string) *iniSection {
	for _, s := range f.sections {
		if s.name == name {
			return s
		}
	}
	return nil
}

// lookup finds key in section s, or in [DEFAULT].
func (f *iniFile) lookup(s *iniSection, key string) *iniOption {
	if o := s.get(key); o != nil {
		return o
	}
	return f.defaults.get(key)
}

// parseINI reads data as configparser does (strict, no inline comments,
// blank lines kept inside multi-line values).
func parseINI(path string, data []byte) (*iniFile, error) {
	f := &iniFile{path: path}
	var cur *iniSection
	var opt *iniOption
	var blanks int // blank lines seen inside opt's value, added if it continues
	indent := 0
	for i, raw := range splitLines(data) {
		n := i + 1
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";") {
			continue // a comment line does not end a value, and is not part of it
		}
		if trimmed == "" {
			if opt != nil {
				blanks++
			}
			continue
		}
		lineIndent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		if opt != nil && lineIndent > indent {
			opt.value += strings.Repeat("\n", blanks+1) + trimmed
			blanks = 0
			continue
		}
		blanks = 0
		indent = lineIndent
		if strings.HasPrefix(trimmed, "[") && strings.LastIndexByte(trimmed, ']') > 1 {
			name := trimmed[1:strings.LastIndexByte(trimmed, ']')]
			opt = nil
			if name == "DEFAULT" {
				if f.defaults == nil {
					f.defaults = &iniSection{name: name, line: n}
				}
				cur = f.defaults
				continue
			}
			if f.section(name) != nil {
				return nil, lineError(path, n, "section [%s] is defined twice", name)
			}
			cur = &iniSection{name: name, line: n}
			f.sections = append(f.sections, cur)
			continue
		}
		if cur == nil {
			return nil, lineError(path, n, "%q is not in a [section]: the file must start with a section header", clip(trimmed))
		}
		eq := strings.IndexAny(trimmed, "=:")
		if eq <= 0 || strings.TrimSpace(trimmed[:eq]) == "" {
			return nil, lineError(path, n, "%q is neither a [section] nor a \"key = value\" line", clip(trimmed))
		}
		key := strings.ToLower(strings.TrimSpace(trimmed[:eq]))
		if cur.get(key) != nil {
			return nil, lineError(path, n, "option %q is set twice in [%s]", key, cur.name)
		}
		opt = &iniOption{key: key, value: strings.TrimSpace(trimmed[eq+1:]), line: n}
		cur.options = append(cur.options, opt)
	}
	return f, nil
}

// interpolate expands configparser's "%(name)s" references (to options of
// the same section or of [DEFAULT]) and "%%", as offlineimap's parser does
// when it reads a value.
func (f *iniFile) interpolate(s *iniSection, o *iniOption) (string, error) {
	return f.expand(s, o, o.value, 0)
}

func (f *iniFile) expand(s *iniSection, o *iniOption, v string, depth int) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	if depth > 10 {
		return "", lineError(f.path, o.line, "%s: %%(...)s references nest too deep (a loop?)", o.key)
	}
	var b strings.Builder
	for len(v) > 0 {
		i := strings.IndexByte(v, '%')
		if i < 0 {
			b.WriteString(v)
			break
		}
		b.WriteString(v[:i])
		v = v[i:]
		switch {
		case strings.HasPrefix(v, "%%"):
			b.WriteByte('%')
			v = v[2:]
		case strings.HasPrefix(v, "%("):
			end := strings.Index(v, ")s")
			if end < 0 {
				return "", lineError(f.path, o.line, "%s: bad interpolation %q: write %%%% for a literal %%", o.key, clip(v))
			}
			ref := f.lookup(s, strings.ToLower(v[2:end]))
			if ref == nil {
				return "", lineError(f.path, o.line, "%s: %%(%s)s names no option of [%s] or [DEFAULT]", o.key, v[2:end], s.name)
			}
			sub, err := f.expand(s, o, ref.value, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(sub)
			v = v[end+2:]
		default:
			return "", lineError(f.path, o.line, "%s: a %% must be followed by %% or (: write %%%% for a literal %%", o.key)
		}
	}
	return b.String(), nil
}

// splitLines splits data into lines without their line ends ("\n", "\r\n").
func splitLines(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// SyntaxError is an import error in a peer's config: the file, the line
// (0 when the error is about the whole file) and what is wrong.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func lineError(file string, line int, format string, args ...any) error {
	return &SyntaxError{File: file, Line: line, Msg: oneLine(fmt.Sprintf(format, args...))}
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
