package peerconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRealPeersAcceptSamples runs each installed peer on the sample configs
// of testdata, so that the samples are configs the peer itself reads
// (Debian: apt-get install isync mpop fetchmail getmail6 offlineimap3). A
// peer that is not installed is skipped. The peers run with HOME in a
// temporary directory that holds the files they insist on finding; nothing
// connects anywhere.
func TestRealPeersAcceptSamples(t *testing.T) {
	for _, c := range cases(t) {
		bin := map[string]string{"mbsync": "mbsync", "mpop": "mpop", "fetchmail": "fetchmail", "getmail": "getmail", "offlineimap": "offlineimap"}[c.peer]
		if _, err := exec.LookPath(bin); err != nil {
			t.Logf("%s: %s is not installed: skipped", c.name, bin)
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			// What the samples name and the peers check for.
			for _, d := range []string{".getmail", "Maildir/home/cur", "Maildir/home/new", "Maildir/home/tmp", ".config/certs"} {
				if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"inbox", ".config/certs/home-ca.pem"} {
				if err := os.WriteFile(filepath.Join(home, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(home, "rc")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for i, name := range c.files {
				p := filepath.Join(dir, filepath.Base(name))
				if err := os.WriteFile(p, c.data[i], 0o600); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			run := func(args ...string) (string, error) {
				cmd := exec.Command(bin, args...)
				cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "USER=me", "LANG=C"}
				cmd.Dir = home
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			switch c.peer {
			case "mbsync":
				// mbsync reads the whole file before it looks for the
				// channel, and stops at the first error of the file.
				out, _ := run("-c", paths[0], "no-such-channel")
				if !strings.Contains(out, "No channel or group named 'no-such-channel'") {
					t.Errorf("mbsync refuses the sample:\n%s", out)
				}
			case "mpop":
				// --pretend prints each account's settings; it also runs
				// the passwordeval commands, which may fail here.
				out, _ := run("-C", paths[0], "--pretend", "-a")
				if regexp.MustCompile(`line \d+:`).MatchString(out) {
					t.Errorf("mpop refuses the sample:\n%s", out)
				}
			case "fetchmail":
				out, err := run("-f", paths[0], "--configdump")
				if err != nil || strings.Contains(out, "syntax error") {
					t.Errorf("fetchmail refuses the sample (%v):\n%s", err, out)
				}
			case "getmail":
				// getmail checks that paths exist: only that may fail here.
				for _, p := range paths {
					out, _ := run("--getmaildir", dir, "--rcfile", filepath.Base(p), "--dump")
					for _, l := range strings.Split(out, "\n") {
						if strings.Contains(l, "rror") && !strings.Contains(l, "does not exist") {
							t.Errorf("getmail refuses %s:\n%s", filepath.Base(p), out)
							break
						}
					}
				}
			case "offlineimap":
				out, _ := run("-c", paths[0], "-a", "NoSuchAccount")
				if !strings.Contains(out, "The account 'NoSuchAccount' does not exist") {
					t.Errorf("offlineimap refuses the sample:\n%s", out)
				}
			}
		})
	}
}
