// Command mailserver runs a private Dovecot (IMAP and POP3 on loopback,
// plain and TLS) for mailfetch's demo and benchmarks.
//
//	mailserver [-dir DIR] [-user alice] [-password secret] [-messages N] [-seed S]
//	           [-folders] [-layout maildir++|fs] [-env FILE]
//
// When the server is ready it writes -env FILE (shell export lines), then
// prints one JSON object on stdout: host, ports, CA file, user, password,
// state dir and Maildir path. It runs until SIGINT or SIGTERM and then
// stops Dovecot. Progress goes to stderr.
//
// -messages N seeds INBOX with N generated messages (dovetest.Generate;
// 10,000 is about 340 MB). With -dir, mail survives between runs, and an
// INBOX that already holds mail is not seeded again.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mailfetch/mailfetch/internal/dovetest"
)

func main() {
	// Caught before the server starts, so that an early ^C still stops
	// Dovecot.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mailserver:", err)
		os.Exit(1)
	}
}

// info is what mailserver prints once the server is ready.
type info struct {
	Host       string   `json:"host"`
	IMAPPort   int      `json:"imap_port"`
	IMAPSPort  int      `json:"imaps_port"`
	POP3Port   int      `json:"pop3_port"`
	POP3SPort  int      `json:"pop3s_port"`
	CAFile     string   `json:"ca_file"`
	CertSHA256 string   `json:"cert_sha256"`
	User       string   `json:"user"`
	Password   string   `json:"password"` // a throwaway account of a loopback test server
	Dir        string   `json:"dir"`
	Maildir    string   `json:"maildir"`
	Messages   int      `json:"messages"`
	Folders    []string `json:"folders"`
	PID        int      `json:"pid"`
}

// demoFolders are created by -folders: nested, non-ASCII, special-use.
var demoFolders = []string{
	"Archive", "Archive/2024", "Archive/2025", "Entwürfe", "Entwürfe/Ünter",
	"Projekte/日本語", "Sent", "Trash", "Listen/golang-nuts",
}

// run serves until ctx is done; a flag error is returned as such.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("mailserver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", "", "state directory, kept after exit (default: a temporary directory, removed)")
	userName := flags.String("user", "alice", "the mail account's user name")
	password := flags.String("password", "secret", "the mail account's password")
	messages := flags.Int("messages", 0, "seed INBOX with this many generated messages (if it is empty)")
	seed := flags.Int64("seed", 1, "seed of the generated messages")
	folders := flags.Bool("folders", false, "also create nested and non-ASCII folders with a few messages each")
	layout := flags.String("layout", "maildir++", "server-side Maildir layout: maildir++ or fs (fs allows '.' in folder names)")
	envFile := flags.String("env", "", "also write shell export lines (DOVETEST_*) to this file")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "mailserver: "+format+"\n", args...)
	}
	u := dovetest.User{Name: *userName, Password: *password}
	switch *layout {
	case "maildir++":
	case "fs":
		u.MailLocation = "maildir:~/Maildir:LAYOUT=fs"
	default:
		return fmt.Errorf("-layout %q: want maildir++ or fs", *layout)
	}

	start := time.Now()
	s, err := dovetest.StartServer(dovetest.Options{Users: []dovetest.User{u}, Dir: *dir})
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			logf("%v", err)
		}
	}()
	logf("dovecot up in %v (%s)", time.Since(start).Round(time.Millisecond), s.Dir)

	if err := seedMail(ctx, s, u.Name, *messages, *seed, *folders, *layout == "fs", logf); err != nil {
		return err
	}
	count, err := s.Count(u.Name, "INBOX")
	if err != nil {
		return err
	}
	out := info{
		Host: s.Host, IMAPPort: s.IMAPPort, IMAPSPort: s.IMAPSPort, POP3Port: s.POP3Port, POP3SPort: s.POP3SPort,
		CAFile: s.CAFile, CertSHA256: s.CertSHA256, User: u.Name, Password: u.Password,
		Dir: s.Dir, Maildir: s.MaildirPath(u.Name), Messages: count, Folders: []string{}, PID: os.Getpid(),
	}
	if *folders {
		out.Folders = folderNames(*layout == "fs")
	}
	if *envFile != "" {
		if err := writeEnv(*envFile, out); err != nil {
			return err
		}
		defer os.Remove(*envFile) // its ports die with the server
	}
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
		logf("stopping")
		return nil
	case <-s.Exited():
		return errors.New("dovecot exited; see " + s.LogFile)
	}
}

func folderNames(fs bool) []string {
	names := append([]string{}, demoFolders...)
	if fs {
		names = append(names, "Releases/v1.2") // a '.' only LAYOUT=fs allows
	}
	return names
}

func seedMail(ctx context.Context, s *dovetest.Server, user string, n int, seed int64, folders, fs bool, logf func(string, ...any)) error {
	if n > 0 {
		have, err := s.Count(user, "INBOX")
		if err != nil {
			return err
		}
		if have > 0 {
			logf("INBOX already holds %d messages: not seeding", have)
		} else {
			start := time.Now()
			if err := s.SeedGenerated(user, "INBOX", seed, n); err != nil {
				return err
			}
			logf("seeded INBOX with %d messages in %v", n, time.Since(start).Round(time.Millisecond))
		}
	}
	if !folders {
		return nil
	}
	for k, name := range folderNames(fs) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if have, err := s.Count(user, name); err == nil && have > 0 {
			continue // a kept -dir
		}
		// Each folder its own seed, so that Message-IDs differ across folders.
		if err := s.SeedGenerated(user, name, seed*1000+int64(k)+1, 3+k%4); err != nil {
			return err
		}
	}
	logf("%d folders ready", len(folderNames(fs)))
	return nil
}

// writeEnv writes the server's coordinates as POSIX shell export lines.
func writeEnv(path string, in info) error {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"DOVETEST_HOST", in.Host},
		{"DOVETEST_IMAP_PORT", fmt.Sprint(in.IMAPPort)},
		{"DOVETEST_IMAPS_PORT", fmt.Sprint(in.IMAPSPort)},
		{"DOVETEST_POP3_PORT", fmt.Sprint(in.POP3Port)},
		{"DOVETEST_POP3S_PORT", fmt.Sprint(in.POP3SPort)},
		{"DOVETEST_CAFILE", in.CAFile},
		{"DOVETEST_CERT_SHA256", in.CertSHA256},
		{"DOVETEST_USER", in.User},
		{"DOVETEST_PASSWORD", in.Password},
		{"DOVETEST_DIR", in.Dir},
		{"DOVETEST_MAILDIR", in.Maildir},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	// Written whole under a temporary name: a script polling for the file
	// never sources half of it.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
