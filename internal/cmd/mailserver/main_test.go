package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	envFile := filepath.Join(t.TempDir(), "server.env")
	outR, outW := io.Pipe()
	finished := make(chan struct{})
	var runErr error
	go func() {
		runErr = run(ctx, []string{"-messages", "25", "-folders", "-user", "carol", "-password", "pw", "-env", envFile}, outW, io.Discard)
		outW.CloseWithError(runErr)
		close(finished)
	}()
	// Whatever happens below, the server is stopped before the test ends.
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(time.Minute):
			t.Error("run did not return after cancel")
		}
	})

	var got info
	line, err := bufio.NewReader(outR).ReadBytes('\n')
	if errors.Is(err, dovetest.ErrNotInstalled) && os.Getenv(dovetest.RequireServerEnv) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("no JSON line: %v", err)
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if got.User != "carol" || got.Messages != 25 || len(got.Folders) != len(demoFolders) || got.Host != "127.0.0.1" {
		t.Errorf("printed %+v", got)
	}

	pem, err := os.ReadFile(got.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", got.Host+":"+strconv.Itoa(got.IMAPSPort), &tls.Config{RootCAs: pool, ServerName: got.Host})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	greeting, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		t.Errorf("IMAPS greeting %q, %v", greeting, err)
	}

	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"export DOVETEST_IMAP_PORT='" + strconv.Itoa(got.IMAPPort) + "'\n",
		"export DOVETEST_CAFILE='" + got.CAFile + "'\n",
		"export DOVETEST_USER='carol'\n",
	} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %q:\n%s", want, env)
		}
	}

	cancel()
	select {
	case <-finished:
		if runErr != nil {
			t.Fatalf("run: %v", runErr)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return after cancel")
	}
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env file after exit: %v", err)
	}
	if _, err := os.Stat(got.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary state dir after exit: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-layout", "mbox"}, {"extra"}, {"-nope"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}
