package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// testdata/script/*.txtar run the real binary (this test binary, as
// "mailfetch", see TestMain) for the flows a user sees: help, version,
// completion, man, and the process's exit codes on bad usage.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
			return os.MkdirAll(home, 0o700)
		},
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exitcode": cmdExitCode},
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// cmdExitCode is the script command "exitcode N PROGRAM [ARGS...]": it runs
// PROGRAM like exec and fails unless it exits with code N. stdout and
// stderr are then checked as after exec.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with code %d, want %d", args[1], got, want)
	}
}

// TestManPageUpToDate keeps doc/mailfetch.1 equal to what `mailfetch man`
// prints, so the shipped man page never disagrees with --help. Regenerate
// with `go run . man > doc/mailfetch.1`.
//
// It runs the real binary: urfave/cli v2 keeps its help command in a
// package variable, and `mailfetch help CMD` (TestBadInput) makes that
// command its own subcommand, so that a man page generated later in the
// same process recurses until memory runs out. One run per process, as a
// user runs mailfetch, never meets it.
func TestManPageUpToDate(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	cmd := exec.Command("mailfetch", "man")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("mailfetch man: %v: %s", err, errOut.String())
	}
	want, err := os.ReadFile("doc/mailfetch.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatal("doc/mailfetch.1 is stale: regenerate it with `go run . man > doc/mailfetch.1`")
	}
}
