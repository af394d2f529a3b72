package transport

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/failure"
)

func TestParseTLSMode(t *testing.T) {
	tests := []struct {
		in   string
		want TLSMode
		ok   bool
	}{
		{"implicit", TLSImplicit, true},
		{"TLS", TLSImplicit, true},
		{" ssl ", TLSImplicit, true},
		{"", TLSImplicit, true},
		{"starttls", TLSStartTLS, true},
		{"StartTLS", TLSStartTLS, true},
		{"none", TLSNone, true},
		{"plain", TLSNone, true},
		{"stls", 0, false},
		{"yes", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTLSMode(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseTLSMode(%q) = %v, %v", tt.in, got, err)
		}
		if err != nil {
			if failure.KindOf(err) != failure.Usage {
				t.Errorf("ParseTLSMode(%q): kind %v, want usage", tt.in, failure.KindOf(err))
			}
			for _, choice := range []string{"implicit", "starttls", "none"} {
				if !strings.Contains(err.Error(), choice) {
					t.Errorf("ParseTLSMode(%q): error %q does not list %q", tt.in, err, choice)
				}
			}
		}
	}
}

func TestTLSModeText(t *testing.T) {
	for _, m := range []TLSMode{TLSImplicit, TLSStartTLS, TLSNone} {
		text, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back TLSMode
		if err := back.UnmarshalText(text); err != nil || back != m || string(text) != m.String() {
			t.Errorf("%v: %q read back as %v, %v", m, text, back, err)
		}
	}
	if _, err := TLSMode(7).MarshalText(); err == nil {
		t.Error("invalid mode marshalled")
	}
}

func TestDefaultPort(t *testing.T) {
	tests := []struct {
		proto string
		mode  TLSMode
		want  int
	}{
		{"pop3", TLSImplicit, 995},
		{"pop3", TLSStartTLS, 110},
		{"POP3", TLSNone, 110},
		{"imap", TLSImplicit, 993},
		{"imap", TLSStartTLS, 143},
		{"imap", TLSNone, 143},
		{"smtp", TLSImplicit, 0},
	}
	for _, tt := range tests {
		if got := DefaultPort(tt.proto, tt.mode); got != tt.want {
			t.Errorf("DefaultPort(%s, %v) = %d, want %d", tt.proto, tt.mode, got, tt.want)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	sum := sha256.Sum256([]byte("certificate"))
	lower := hex.EncodeToString(sum[:])
	formatted := formatFingerprint(sum)
	for _, in := range []string{
		lower,
		strings.ToUpper(lower),
		formatted,
		strings.ToLower(formatted),
		"SHA256:" + formatted,
		"sha256 Fingerprint=" + formatted,
		"  " + strings.ReplaceAll(formatted, ":", " ") + "\n",
	} {
		got, err := ParseFingerprint(in)
		if err != nil || got != sum {
			t.Errorf("ParseFingerprint(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "AB:CD", lower[:62], lower + "00", "zz" + lower[2:], "sha1:" + lower} {
		if _, err := ParseFingerprint(in); err == nil || failure.KindOf(err) != failure.Usage {
			t.Errorf("ParseFingerprint(%q): %v, want a usage error", in, err)
		}
	}
	if len(formatted) != 95 || formatted != strings.ToUpper(formatted) {
		t.Errorf("fingerprint formatted as %q", formatted)
	}
}

func TestTLSConfig(t *testing.T) {
	cfg, err := Security{}.TLSConfig("imap.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "imap.example.com" || cfg.MinVersion < 0x0303 || cfg.InsecureSkipVerify || cfg.RootCAs != nil {
		t.Errorf("default config: %+v", cfg)
	}
	cfg, err = Security{ServerName: "mail.example.com"}.TLSConfig("192.0.2.1")
	if err != nil || cfg.ServerName != "mail.example.com" {
		t.Errorf("ServerName: %q, %v", cfg.ServerName, err)
	}
	sum := sha256.Sum256([]byte("x"))
	cfg, err = Security{Fingerprint: formatFingerprint(sum)}.TLSConfig("h")
	if err != nil || !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil {
		t.Errorf("pinned config: %+v, %v", cfg, err)
	}
}
