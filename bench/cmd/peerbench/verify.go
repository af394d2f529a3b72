package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// maildirCount is what a tool delivered: message files in the new/ and
// cur/ directories anywhere under its Maildir root (every tool's folder
// layout), how many folders hold them, and how many carry the F
// (\Flagged) Maildir flag.
type maildirCount struct {
	messages, folders, flagged int
}

// expectation is what the server holds; flagged < 0 is not checked (POP3
// has no flags).
type expectation struct {
	messages, folders, flagged int
}

func countMaildir(root string) (maildirCount, error) {
	var c maildirCount
	folders := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		dir := filepath.Dir(path)
		if sub := filepath.Base(dir); sub != "new" && sub != "cur" {
			return nil // tmp/, and the tools' own files beside new/ and cur/
		}
		c.messages++
		folders[filepath.Dir(dir)] = true
		// Maildir info: "unique:2,FLAGS", letters in ASCII order.
		if _, info, ok := strings.Cut(e.Name(), ":2,"); ok && strings.ContainsRune(info, 'F') {
			c.flagged++
		}
		return nil
	})
	c.folders = len(folders)
	return c, err
}

func (c maildirCount) check(want expectation) error {
	switch {
	case c.messages != want.messages:
		return fmt.Errorf("delivered %d messages, the server has %d", c.messages, want.messages)
	case c.folders != want.folders:
		return fmt.Errorf("messages in %d folders, the server has %d", c.folders, want.folders)
	case want.flagged >= 0 && c.flagged != want.flagged:
		return fmt.Errorf("%d messages flagged \\Flagged, the server has %d", c.flagged, want.flagged)
	}
	return nil
}
