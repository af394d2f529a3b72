package peerconf

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// mappedOptions are, per peer, the options an import turns into keys (or
// into the structure of accounts): every other option of an input must be
// named in a comment of the output.
var mappedOptions = map[string][]string{
	"mbsync": {"imapaccount", "imapstore", "maildirstore", "channel", "host", "port", "user", "pass", "passcmd",
		"ssltype", "tlstype", "systemcertificates", "account", "far", "near", "master", "slave", "path", "inbox",
		"subfolders", "patterns", "pattern", "useimaps", "requiressl", "channels", "authmechs", "authmech", "timeout",
		"expunge", "certificatefile"},
	"mpop": {"account", "defaults", "host", "port", "user", "password", "passwordeval", "tls", "tls_starttls",
		"tls_trust_file", "tls_fingerprint", "delivery", "keep", "skipsize", "timeout", "auth"},
	"offlineimap": {"accounts", "localrepository", "remoterepository", "type", "localfolders", "sep", "remotehost",
		"remoteport", "remoteuser", "remotepass", "remotepassfile", "remotepasseval", "ssl", "starttls",
		"sslcacertfile", "cert_fingerprint", "auth_mechanisms", "maxconnections", "folderfilter", "socktimeout"},
	"getmail": {"type", "server", "port", "username", "password", "password_command", "use_apop", "use_cram_md5",
		"use_xoauth2", "mailboxes", "ca_certs", "ssl_fingerprints", "timeout", "path", "arguments", "destinations",
		"delete", "delete_after", "read_all", "max_message_size", "max_messages_per_session"},
}

// optionKeys lists the option names of a peer's file (not fetchmail's,
// whose free-form grammar has no line per option).
func optionKeys(peer string, data []byte) []string {
	var keys []string
	switch peer {
	case "mbsync", "mpop":
		for i, l := range splitLines(data) {
			if peer == "mbsync" {
				w, _, err := mbWords("f", i+1, l)
				if err == nil && len(w) > 0 {
					keys = append(keys, w[0])
				}
				continue
			}
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
				keys = append(keys, f[0])
			}
		}
	case "offlineimap", "getmail":
		f, err := parseINI("f", data)
		if err != nil {
			return nil
		}
		for _, s := range f.sections {
			if strings.HasPrefix(s.name, "filter") || s.name == "mbnames" {
				keys = append(keys, "["+s.name+"]")
				continue
			}
			for _, o := range s.options {
				keys = append(keys, o.key)
			}
		}
	}
	return keys
}

// TestEveryOptionAccounted checks, for every test case, that each option of
// the input is either mapped to a key or named in a comment: nothing is
// dropped silently.
func TestEveryOptionAccounted(t *testing.T) {
	for _, c := range cases(t) {
		mapped, ok := mappedOptions[c.peer]
		if !ok {
			continue
		}
		res, err := importData(c.peer, c.files, c.data, testEnv)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var out bytes.Buffer
		if err := res.WriteTOML(&out); err != nil {
			t.Fatal(err)
		}
		for _, data := range c.data {
			for _, key := range optionKeys(c.peer, data) {
				if contains(mapped, strings.ToLower(key)) {
					continue
				}
				re := regexp.MustCompile(`(?m)^(# )?# ` + regexp.QuoteMeta(c.peer) + `: (?i:` + regexp.QuoteMeta(key) + `)( |$)`)
				if !re.Match(out.Bytes()) {
					t.Errorf("%s: the option %q is neither mapped nor named in a comment", c.name, key)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
