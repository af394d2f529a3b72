package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestHelpIsTidy checks what --help says of each command's flags: each
// default once and true (never "(default: false)", "(default: 0s)" or a
// default written into the usage and added again), a real placeholder
// rather than urfave's "value", and only the flags that apply.
func TestHelpIsTidy(t *testing.T) {
	help := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"mailfetch"}, append(args, "--help")...), &out, &errOut); code != 0 {
			t.Fatalf("%v --help: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	bad := regexp.MustCompile(`\(default: (false|0|0s)\)|\(default [^)]*\) \(default|\s--[a-z-]+ value\s`)
	commands := [][]string{{}, {"pop3"}, {"imap", "sync"}, {"imap", "list"}, {"accounts"}, {"import"}}
	for _, cmd := range commands {
		text := help(cmd...)
		if m := bad.FindAllString(text, -1); len(m) > 0 {
			t.Errorf("mailfetch %s --help: %q", strings.Join(cmd, " "), m)
		}
	}
	for _, c := range []struct {
		cmd      []string
		has, not []string
	}{
		{[]string{"pop3"}, []string{"--keep", "--dry-run", "--wait", "--deadline", "--timeout DURATION", "(default: 60s)"}, []string{"--jobs", "--expunge-remote", "--folders"}},
		{[]string{"imap", "sync"}, []string{"--jobs N", "(default: 4)", "--expunge-remote", "--allow-mass-delete", "--dry-run"}, []string{"--keep", "--max-size"}},
		{[]string{"imap", "list"}, []string{"--folders", "--host HOST"}, []string{"--dry-run", "--jobs", "--expunge-remote", "--allow-mass-delete", "--deadline", "--keep"}},
		{[]string{"accounts"}, []string{"--check", "--host HOST"}, []string{"--dry-run", "--wait", "--jobs", "--expunge-remote", "--keep"}},
	} {
		text := help(c.cmd...)
		for _, want := range c.has {
			if !strings.Contains(text, want) {
				t.Errorf("mailfetch %s --help lacks %q", strings.Join(c.cmd, " "), want)
			}
		}
		for _, not := range c.not {
			if strings.Contains(text, not+" ") || strings.Contains(text, not+",") {
				t.Errorf("mailfetch %s --help offers %s, which does not apply", strings.Join(c.cmd, " "), not)
			}
		}
	}
}
