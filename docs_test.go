package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestManPageUpToDate keeps doc/mailfetch.1 equal to what `mailfetch man`
// prints, so the shipped man page never disagrees with --help. Regenerate
// with `go run . man > doc/mailfetch.1`.
func TestManPageUpToDate(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"mailfetch", "man"}, &out, &errOut); code != 0 {
		t.Fatalf("mailfetch man: exit %d: %s", code, errOut.String())
	}
	want, err := os.ReadFile("doc/mailfetch.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatal("doc/mailfetch.1 is stale: regenerate it with `go run . man > doc/mailfetch.1`")
	}
}
