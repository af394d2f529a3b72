package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseScript runs scripts/release for this machine's platform, so
// that the script cannot rot: the binary is static, says the stamped
// version, matches its checksum, and a build from a copy of the source in
// another directory is byte-identical (the build does not depend on where
// the source is).
func TestReleaseScript(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the release script is exercised on Linux")
	}
	t.Parallel()
	const version = "v0.0.0-test.1"
	target := runtime.GOOS + "/" + runtime.GOARCH
	build := func(src, dist string) []byte {
		t.Helper()
		cmd := exec.Command(filepath.Join(src, "scripts", "release"), version)
		cmd.Env = append(os.Environ(), "DIST="+dist, "TARGETS="+target)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/release: %v\n%s", err, out)
		}
		bin, err := os.ReadFile(filepath.Join(dist, "mailfetch-"+version+"-"+runtime.GOOS+"-"+runtime.GOARCH))
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	dist := t.TempDir()
	bin := build(".", dist)
	path := filepath.Join(dist, "mailfetch-"+version+"-"+runtime.GOOS+"-"+runtime.GOARCH)

	out, err := exec.Command(path, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mailfetch "+version+" (") {
		t.Errorf("--version: %q, %v", out, err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked")
		}
	}
	f.Close()

	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	if !bytes.Contains(sums, []byte(hex.EncodeToString(sum[:])+"  mailfetch-"+version+"-")) {
		t.Errorf("SHA256SUMS does not list the binary's checksum:\n%s", sums)
	}
	if man, err := os.ReadFile(filepath.Join(dist, "mailfetch.1")); err != nil || !bytes.Contains(man, []byte(".TH")) {
		t.Errorf("man page: %v", err)
	}

	// The same source elsewhere gives the same bytes.
	src := filepath.Join(t.TempDir(), "elsewhere")
	list, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	for _, name := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if again := build(src, t.TempDir()); !bytes.Equal(bin, again) {
		t.Error("a build from another directory differs: the release is not reproducible")
	}
}
