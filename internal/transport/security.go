package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// TLSMode says when a connection is encrypted. The zero value is
// TLSImplicit: secure by default.
type TLSMode int

const (
	// TLSImplicit starts TLS as soon as the TCP connection is up, before the
	// server's greeting (POP3S on 995, IMAPS on 993).
	TLSImplicit TLSMode = iota
	// TLSStartTLS connects in plain text and upgrades with STLS (POP3) or
	// STARTTLS (IMAP) before anything else. It is required, not
	// opportunistic: an engine fails when the server does not offer it.
	TLSStartTLS
	// TLSNone never encrypts. Credentials that an eavesdropper could read
	// are then sent only with Security.AllowPlaintextAuth.
	TLSNone
)

// tlsModeNames are the accepted spellings of each mode; the first is the
// canonical one that String returns.
var tlsModeNames = map[TLSMode][]string{
	TLSImplicit: {"implicit", "tls", "ssl"},
	TLSStartTLS: {"starttls"},
	TLSNone:     {"none", "plain"},
}

// ParseTLSMode reads a TLS mode as users write it: "implicit" (or "tls",
// "ssl"), "starttls", "none" (or "plain"), in any case; "" is the default,
// TLSImplicit. Anything else is a failure.Usage error that lists the
// choices.
func ParseTLSMode(s string) (TLSMode, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	if want == "" {
		return TLSImplicit, nil
	}
	for _, m := range []TLSMode{TLSImplicit, TLSStartTLS, TLSNone} {
		for _, name := range tlsModeNames[m] {
			if want == name {
				return m, nil
			}
		}
	}
	return 0, failure.Wrap(failure.Usage, fmt.Errorf("unknown TLS mode %q: want implicit (or tls, ssl), starttls, or none (or plain)", s))
}

// String returns the canonical name: "implicit", "starttls" or "none".
func (m TLSMode) String() string {
	if names, ok := tlsModeNames[m]; ok {
		return names[0]
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// MarshalText writes the canonical name, so a TLSMode reads and writes as a
// string in TOML and JSON.
func (m TLSMode) MarshalText() ([]byte, error) {
	if _, ok := tlsModeNames[m]; !ok {
		return nil, fmt.Errorf("invalid TLS mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads a name as ParseTLSMode does.
func (m *TLSMode) UnmarshalText(text []byte) error {
	mode, err := ParseTLSMode(string(text))
	if err != nil {
		return err
	}
	*m = mode
	return nil
}

// DefaultPort is the IANA port of proto ("pop3" or "imap", any case) in the
// given mode: 995/110 for POP3, 993/143 for IMAP. STARTTLS uses the plain
// port. It returns 0 for an unknown protocol.
func DefaultPort(proto string, mode TLSMode) int {
	implicit := mode == TLSImplicit
	switch strings.ToLower(proto) {
	case "pop3":
		if implicit {
			return 995
		}
		return 110
	case "imap":
		if implicit {
			return 993
		}
		return 143
	}
	return 0
}

// Security says how a connection is protected and which server certificate
// is trusted.
type Security struct {
	// Mode says when TLS starts; the zero value is TLSImplicit.
	Mode TLSMode
	// CAFile names a PEM file whose certificates are the only trusted roots
	// (a private CA, or a self-signed server certificate). Empty means the
	// system roots.
	CAFile string
	// Fingerprint pins the server's certificate: the SHA-256 of its DER
	// encoding, 64 hex digits, colons and case ignored. The certificate with
	// that fingerprint is accepted whoever signed it and whatever names it
	// carries; any other is refused. It takes precedence over CAFile.
	Fingerprint string
	// ServerName is the name the certificate must carry (and the SNI sent);
	// empty means the host dialed. An IP address is checked against the
	// certificate's IP addresses.
	ServerName string
	// AllowPlaintextAuth allows credentials that an eavesdropper could read
	// (passwords, tokens) over a connection without TLS. See CheckAuth.
	AllowPlaintextAuth bool
}

// TLSConfig returns the client TLS configuration for a server dialed as host:
// TLS 1.2 or later; the certificate verified against the system roots, or
// only the certificates in CAFile, or accepted by its pinned Fingerprint. A
// CA file that cannot be read or holds no certificate, or a malformed
// fingerprint, is a failure.Usage error.
func (s Security) TLSConfig(host string) (*tls.Config, error) {
	name := s.ServerName
	if name == "" {
		name = host
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: name,
	}
	switch {
	case s.Fingerprint != "":
		pin, err := ParseFingerprint(s.Fingerprint)
		if err != nil {
			return nil, err
		}
		// A pin replaces chain and name verification: the user has said
		// which certificate this server has (typically self-signed, or
		// issued for a name other than the one dialed), so the usual checks
		// could only refuse it. InsecureSkipVerify turns them off and
		// VerifyConnection, which runs on every handshake including resumed
		// sessions (unlike VerifyPeerCertificate), accepts exactly the
		// pinned certificate and nothing else.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return failure.New(failure.Certificate, "tls: the server sent no certificate, so it cannot match the pinned fingerprint")
			}
			leaf := cs.PeerCertificates[0]
			got := sha256.Sum256(leaf.Raw)
			if subtle.ConstantTimeCompare(got[:], pin[:]) != 1 {
				return failure.Wrap(failure.Certificate,
					&CertificateError{ServerName: name, Fingerprint: formatFingerprint(got), Pinned: formatFingerprint(pin)})
			}
			return nil
		}
	case s.CAFile != "":
		pool, err := loadCAFile(s.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loadCAFile reads a PEM bundle into a pool that holds only its
// certificates, not the system roots.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("ca file: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, failure.Wrap(failure.Usage, fmt.Errorf("ca file %s: no PEM certificate in it", path))
	}
	return pool, nil
}

// ParseFingerprint reads a SHA-256 certificate fingerprint: 64 hex digits,
// in any case, with or without colons or spaces between bytes, optionally
// prefixed "sha256:" as some tools print it. Anything else is a
// failure.Usage error.
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	t := strings.TrimSpace(s)
	for _, prefix := range []string{"sha256:", "sha-256:", "sha256 fingerprint=", "sha256="} {
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			t = t[len(prefix):]
			break
		}
	}
	t = strings.NewReplacer(":", "", " ", "", "\t", "").Replace(t)
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return fp, failure.Wrap(failure.Usage, fmt.Errorf("fingerprint %q: want the SHA-256 of the server certificate, 64 hex digits (colons allowed)", s))
	}
	copy(fp[:], b)
	return fp, nil
}

// Fingerprint returns the SHA-256 fingerprint of cert as upper-case hex
// bytes separated by colons (AB:CD:...), the form Security.Fingerprint
// accepts and openssl prints.
func Fingerprint(cert *x509.Certificate) string {
	return formatFingerprint(sha256.Sum256(cert.Raw))
}

func formatFingerprint(sum [sha256.Size]byte) string {
	var b strings.Builder
	b.Grow(3 * len(sum))
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// CertificateError reports a server certificate that was not trusted. Its
// message says what was wrong, shows the certificate's fingerprint (so that
// the user can check it and pin it) and names the settings that decide
// trust, ca-file and fingerprint. Retrying does not help: errors from Dial
// and StartTLS that carry it are failure.Certificate (exit code 6).
type CertificateError struct {
	// ServerName is the name the certificate was checked against.
	ServerName string
	// Fingerprint is the SHA-256 fingerprint of the server's certificate,
	// formatted as Fingerprint does.
	Fingerprint string
	// Pinned is the expected fingerprint when a pin did not match; empty
	// when verification against the trusted roots failed.
	Pinned string
	// Err is the verification failure (an x509 error); nil for a pin
	// mismatch.
	Err error
}

func (e *CertificateError) Error() string {
	if e.Pinned != "" {
		return fmt.Sprintf("tls: certificate for %s has SHA-256 fingerprint %s, not the pinned %s; if the server's certificate was replaced, check the new one and set it as fingerprint",
			e.ServerName, e.Fingerprint, e.Pinned)
	}
	return fmt.Sprintf("tls: certificate for %s %s (SHA-256 fingerprint %s); set ca-file or fingerprint to trust it",
		e.ServerName, certProblem(e.Err, e.ServerName), e.Fingerprint)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// certProblem says in a few words why x509 verification failed.
func certProblem(err error, name string) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		return "is not trusted"
	case errors.As(err, &unknown):
		return "signed by unknown authority"
	case errors.As(err, &host):
		var names []string
		if host.Certificate != nil {
			names = append(names, host.Certificate.DNSNames...)
			for _, ip := range host.Certificate.IPAddresses {
				names = append(names, ip.String())
			}
		}
		if len(names) == 0 {
			return "names no host at all, not " + name
		}
		return "is valid for " + strings.Join(names, ", ") + ", not " + name
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return strings.TrimPrefix(invalid.Error(), "x509: certificate ")
	}
	return "is not trusted: " + err.Error()
}
