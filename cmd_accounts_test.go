package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// mailfetch accounts against a real Dovecot.
func TestAccountsCLI(t *testing.T) {
	t.Parallel()
	srv := cliServer(t, "p-check", "i-check")

	t.Run("accounts --check", func(t *testing.T) {
		t.Parallel()
		e := newServerEnv(t, srv)
		e.config(t, e.account("pop", "pop3", "p-check"), e.account("imap", "imap", "i-check"))
		mustSeed(t, srv, "p-check", "INBOX", testMessages("check", 2))
		mustSeed(t, srv, "i-check", "Work", testMessages("check", 1))
		stdout, stderr := e.wantRun(t, 0, "accounts", "--check")
		if stderr != "" {
			t.Errorf("stderr %q", stderr)
		}
		for _, w := range []string{
			"pop (pop3)\n", fmt.Sprintf("server:    127.0.0.1:%d, tls starttls", srv.POP3Port), "check:     ok: 2 messages, ",
			"imap (imap)\n", fmt.Sprintf("server:    127.0.0.1:%d, tls implicit", srv.IMAPSPort), "check:     ok: 2 folders",
			"password from file " + e.pwFile,
		} {
			if !strings.Contains(stdout, w) {
				t.Errorf("stdout does not say %q:\n%s", w, stdout)
			}
		}
		stdout, _ = e.wantRun(t, 0, "accounts", "--check", "--json")
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var v struct{ Type, Account, Check, Error string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if v.Type != "account" || !strings.HasPrefix(v.Check, "ok: ") || v.Error != "" {
				t.Errorf("--json: %s", line)
			}
			n++
		}
		if n != 2 {
			t.Errorf("--json: %d accounts:\n%s", n, stdout)
		}
		if strings.Contains(stdout, serverPassword) {
			t.Error("the output shows the password")
		}
	})
}
