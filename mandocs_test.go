package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/config"
)

// TestKeyDocsAgree keeps the three places that document the config keys
// equal: config.Keys (the source), the README's key table and the shipped
// mailfetch.toml(5); and config.Keys names exactly the keys the file
// format reads. Regenerate with `go run . man 5 > doc/mailfetch.toml.5`.
func TestKeyDocsAgree(t *testing.T) {
	var documented []string
	for _, k := range config.Keys {
		documented = append(documented, k.Key)
	}
	known := config.KnownKeys()
	slices.Sort(documented)
	slices.Sort(known)
	if !slices.Equal(documented, known) {
		t.Errorf("config.Keys documents %q, the format reads %q", documented, known)
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("### Every key\n\n"+keyTable()+"\n")) {
		t.Error("README.md's key table (under \"### Every key\") is not what config.Keys says: paste keyTable()'s output there")
	}
	page, err := os.ReadFile("doc/mailfetch.toml.5")
	if err != nil {
		t.Fatal(err)
	}
	if string(page) != tomlManPage() {
		t.Error("doc/mailfetch.toml.5 is stale: regenerate it with `go run . man 5 > doc/mailfetch.toml.5`")
	}
	for _, k := range config.Keys {
		if !strings.Contains(string(page), `\fB`+k.Key+`\fR`) {
			t.Errorf("mailfetch.toml(5) does not describe %s", k.Key)
		}
	}
}

// TestManPageSections checks that mailfetch(1) stands alone: the sections
// a packager looks for, and every exit code.
func TestManPageSections(t *testing.T) {
	page, err := os.ReadFile("doc/mailfetch.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES", ".SH EXAMPLES", ".SH SEE ALSO", `\fBmailfetch.toml\fR(5)`, "MAILFETCH_CONFIG"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("mailfetch(1) lacks %q", want)
		}
	}
	exit := string(page[bytes.Index(page, []byte(".SH EXIT STATUS")):])
	for _, code := range []string{"0", "1", "3", "4", "5", "6", "64", "68", "69", "74", "75", "76", "77", "130"} {
		if !strings.Contains(exit, ".TP\n\\fB"+code+"\\fR\n") {
			t.Errorf("EXIT STATUS lacks code %s", code)
		}
	}
}
