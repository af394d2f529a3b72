package sync

import (
	"strings"
)

// Folder patterns work as mbsync's Patterns: each is matched against the
// folder's path with '/' between its elements, whatever the server's
// hierarchy delimiter; '*' matches anything, '%' anything but '/'; a
// leading '!' makes a pattern exclude; and the last pattern that matches
// a folder decides. No pattern at all means {"*"}. A folder that no
// pattern matches is not synced.

// selected reports whether the folder with the given path elements is
// selected by patterns.
func selected(patterns []string, path []string) bool {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	name := strings.Join(path, "/")
	in := false
	for _, p := range patterns {
		exclude := strings.HasPrefix(p, "!")
		if exclude {
			p = p[1:]
		}
		if patternMatch(p, name) {
			in = !exclude
		}
	}
	return in
}

// patternMatch reports whether name matches the pattern. The first
// element "INBOX" matches in any case, as IMAP's INBOX is
// case-insensitive. It runs in O(len(pattern)·len(name)).
func patternMatch(pattern, name string) bool {
	pattern, name = foldInbox(pattern), foldInbox(name)
	// match[j]: pattern[:i] matches name[:j].
	match := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	match[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			next[0] = match[0]
			for j := 1; j <= len(name); j++ {
				next[j] = match[j] || next[j-1]
			}
		case '%':
			next[0] = match[0]
			for j := 1; j <= len(name); j++ {
				next[j] = match[j] || (next[j-1] && name[j-1] != '/')
			}
		default:
			next[0] = false
			for j := 1; j <= len(name); j++ {
				next[j] = match[j-1] && name[j-1] == c
			}
		}
		match, next = next, match
	}
	return match[len(name)]
}

// foldInbox spells a leading INBOX element in upper case.
func foldInbox(s string) string {
	if len(s) >= 5 && strings.EqualFold(s[:5], "INBOX") && (len(s) == 5 || s[5] == '/') {
		return "INBOX" + s[5:]
	}
	return s
}
