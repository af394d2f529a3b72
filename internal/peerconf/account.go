package peerconf

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Account is one mailfetch account built from a peer's config: the keys of
// mailfetch's config.toml that have an equivalent, and Notes for everything
// else. The zero value of a field means "not set" (the key is not written).
type Account struct {
	// Name is the [account.NAME] name, unique in the Result.
	Name string
	// Source says where in the peer's config the account comes from, for a
	// comment above its table: `Channel "work" (line 30)`.
	Source string
	// Disabled, when not empty, says why the account cannot be used as it
	// is: the whole table is written commented out, after this reason.
	Disabled string

	Protocol       string // "pop3" or "imap"
	Host           string
	Port           int
	TLS            string // "implicit", "starttls" or "none"
	CAFile         string
	Fingerprint    string // 64 lower-case hex digits
	AllowPlaintext bool
	User           string
	Auth           string
	// PasswordCommand and PasswordFile are the password sources an import
	// may write. A plaintext password is never kept: PasswordHint says
	// where it was instead.
	PasswordCommand string
	PasswordFile    string
	PasswordHint    string
	Maildir         string
	Layout          string
	MDA             string
	Timeout         time.Duration

	Keep        *bool
	DeleteAfter int
	MaxSize     int64
	MaxMessages int

	Folders       []string
	Jobs          int
	ExpungeRemote bool

	// KeyNotes are comments written just above a key of the table (the
	// key's name is the map key): why a value is what it is.
	KeyNotes map[string][]string
	// Notes are the peer's options that have no equivalent, or whose
	// equivalent differs; written after the account's keys.
	Notes []Note
}

// Note is one option of the peer's config that an import could not turn into
// a key, or one that mailfetch treats differently.
type Note struct {
	// Key is the option as the peer spells it ("Expunge", "sslfingerprint").
	Key string
	// Value is the option's value as written; Hidden keeps a secret's
	// value out of the output.
	Value  string
	Hidden bool
	// Raw marks a Value already written as the peer quotes it: it is shown
	// as it is.
	Raw bool
	// Line is the option's line in the peer's file, 0 if unknown.
	Line int
	// Text says what mailfetch does instead.
	Text string
	// Attention marks a note the user must act on or know before the first
	// run: the CLI repeats it on standard error.
	Attention bool
}

// note adds a note to the account.
func (a *Account) note(n Note) { a.Notes = append(a.Notes, n) }

// keyNote adds a comment above key.
func (a *Account) keyNote(key, text string) {
	if a.KeyNotes == nil {
		a.KeyNotes = map[string][]string{}
	}
	a.KeyNotes[key] = append(a.KeyNotes[key], text)
}

// Result is what an import found: the accounts, in the order of the peer's
// config, and notes that belong to no account.
type Result struct {
	Peer     string
	Files    []string
	Global   []Note
	Accounts []*Account
}

// Warnings are the notes marked for attention, one line each, naming the
// account they belong to and the option's line; an account written
// commented out has one warning, its reason.
func (r *Result) Warnings() []string {
	var out []string
	where := func(n Note) string {
		if n.Line > 0 {
			return fmt.Sprintf("%s %s (line %d)", r.Peer, n.Key, n.Line)
		}
		return r.Peer + " " + n.Key
	}
	for _, n := range r.Global {
		if n.Attention {
			out = append(out, where(n)+": "+n.Text)
		}
	}
	for _, a := range r.Accounts {
		if a.Disabled != "" {
			out = append(out, fmt.Sprintf("account %q is written commented out: %s", a.Name, a.Disabled))
			continue
		}
		for _, n := range a.Notes {
			if n.Attention {
				out = append(out, fmt.Sprintf("account %q: %s: %s", a.Name, where(n), n.Text))
			}
		}
	}
	return out
}

// normalizeFingerprint reads a certificate fingerprint as the peers write it
// (hex, colons or spaces between bytes, any case, an optional "SHA256:"
// prefix) and returns its bytes as lower-case hex, or "" when it is not hex.
func normalizeFingerprint(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 7 && strings.HasPrefix(strings.ToLower(s), "sha") {
		// "SHA256:AB:CD..." or "sha1:..."; the hash is told by the length.
		if _, err := strconv.Atoi(strings.TrimLeft(strings.ToLower(s[:i]), "sha-")); err == nil {
			s = s[i+1:]
		}
	}
	s = strings.ToLower(strings.NewReplacer(":", "", " ", "", "\t", "").Replace(s))
	if s == "" {
		return ""
	}
	if _, err := hex.DecodeString(s); err != nil {
		return ""
	}
	return s
}

// fingerprintHash names the hash a hex fingerprint of this many digits comes
// from.
func fingerprintHash(hexDigits int) string {
	switch hexDigits {
	case 32:
		return "MD5"
	case 40:
		return "SHA-1"
	case 56:
		return "SHA-224"
	case 64:
		return "SHA-256"
	case 96:
		return "SHA-384"
	case 128:
		return "SHA-512"
	}
	return "an unknown hash"
}

// setFingerprint sets the account's pin from a peer's fingerprint, or notes
// why it cannot: mailfetch pins the SHA-256 only.
func (a *Account) setFingerprint(key, value string, line int) {
	fp := normalizeFingerprint(value)
	switch {
	case fp == "":
		a.note(Note{Key: key, Value: value, Line: line, Attention: true,
			Text: "not a hex fingerprint; mailfetch pins the certificate's SHA-256: " + sha256Hint})
	case len(fp) != 64:
		a.note(Note{Key: key, Value: value, Line: line, Attention: true,
			Text: fmt.Sprintf("this is %s fingerprint, which mailfetch cannot use: it pins the certificate's SHA-256 (fingerprint = ...): %s",
				articleFor(fingerprintHash(len(fp))), sha256Hint)})
	case a.Fingerprint != "" && a.Fingerprint != fp:
		a.note(Note{Key: key, Value: value, Line: line, Attention: true,
			Text: "a second fingerprint: mailfetch pins one certificate, the first one given"})
	default:
		a.Fingerprint = fp
	}
}

const sha256Hint = "openssl x509 -noout -fingerprint -sha256 -in CERT.pem prints it"

func articleFor(word string) string {
	if word != "" && strings.ContainsRune("AEIMOU", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// plaintextHint is the comment that replaces a plaintext password.
func (a *Account) plaintextHint(peer, key string, line int) {
	a.PasswordHint = fmt.Sprintf("the %s config has a plaintext %s (line %d): store it in a password manager and name its command here", peer, key, line)
}

// secondsDuration is n seconds.
func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }
