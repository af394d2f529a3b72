package dovetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// doveadmTimeout bounds one doveadm call; a force-resync of 10,000
// messages takes about a second.
const doveadmTimeout = 5 * time.Minute

// Doveadm runs "doveadm -c CONFIG args..." and returns its standard
// output. The error carries doveadm's standard error.
func (s *Server) Doveadm(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), doveadmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.doveadmBin, append([]string{"-c", s.Config}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &DoveadmError{Args: args, Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.Bytes(), nil
}

// DoveadmError is a failed doveadm call.
type DoveadmError struct {
	Args   []string
	Err    error  // the exit status, usually an *exec.ExitError
	Stderr string // what doveadm said
}

func (e *DoveadmError) Error() string {
	return fmt.Sprintf("dovetest: doveadm %s: %v: %s", strings.Join(e.Args, " "), e.Err, e.Stderr)
}

func (e *DoveadmError) Unwrap() error { return e.Err }

// CreateMailbox creates and subscribes mailbox name (UTF-8, '/' between
// levels, e.g. "Entwürfe/Ünter") for user. Missing parents are created.
// Under the default Maildir++ layout a name with '.' is refused.
func (s *Server) CreateMailbox(user, name string) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	if strings.EqualFold(name, "INBOX") {
		// It always exists, and Dovecot's failed attempt would leave a stray
		// Maildir++ "maildirfolder" marker in the Maildir root.
		return fmt.Errorf("dovetest: INBOX always exists")
	}
	_, err := s.Doveadm("mailbox", "create", "-s", "-u", user, name)
	return err
}

// ensureMailbox creates name unless it exists.
func (s *Server) ensureMailbox(user, name string) error {
	if strings.EqualFold(name, "INBOX") {
		return nil
	}
	err := s.CreateMailbox(user, name)
	var de *DoveadmError
	if errors.As(err, &de) && strings.Contains(de.Stderr, "already exists") {
		return nil
	}
	return err
}

// DeleteMailbox deletes mailbox name of user with its messages and
// unsubscribes it. INBOX is refused: Dovecot would expunge every message
// in it and then fail to delete it.
func (s *Server) DeleteMailbox(user, name string) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	if strings.EqualFold(name, "INBOX") {
		return fmt.Errorf("dovetest: INBOX cannot be deleted")
	}
	_, err := s.Doveadm("mailbox", "delete", "-s", "-u", user, name)
	return err
}

// MailboxPath returns the directory that holds mailbox name of user on
// the server (for INBOX, the Maildir root), as Dovecot maps it: with
// Maildir++ "a/b" is ROOT/.a.b, with LAYOUT=fs ROOT/a/b; non-ASCII names
// are in modified UTF-7. The mailbox need not exist.
func (s *Server) MailboxPath(user, name string) (string, error) {
	if err := s.checkUser(user); err != nil {
		return "", err
	}
	out, err := s.Doveadm("mailbox", "path", "-u", user, name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

var statusRE = regexp.MustCompile(`\b(messages|uidvalidity|uidnext|unseen|highestmodseq)=(\d+)`)

// status returns the requested fields of "doveadm mailbox status".
func (s *Server) status(user, name string, fields ...string) (map[string]uint64, error) {
	if err := s.checkUser(user); err != nil {
		return nil, err
	}
	out, err := s.Doveadm("mailbox", "status", "-u", user, strings.Join(fields, " "), name)
	if err != nil {
		return nil, err
	}
	st := map[string]uint64{}
	for _, m := range statusRE.FindAllStringSubmatch(string(out), -1) {
		st[m[1]], _ = strconv.ParseUint(m[2], 10, 64)
	}
	for _, f := range fields {
		if _, ok := st[f]; !ok {
			return nil, fmt.Errorf("dovetest: doveadm mailbox status %s %s: no %s in %q", user, name, f, out)
		}
	}
	return st, nil
}

// Count returns the number of messages in mailbox name of user.
func (s *Server) Count(user, name string) (int, error) {
	st, err := s.status(user, name, "messages")
	if err != nil {
		return 0, err
	}
	return int(st["messages"]), nil
}

// UIDValidity returns the UIDVALIDITY of mailbox name of user.
func (s *Server) UIDValidity(user, name string) (uint32, error) {
	st, err := s.status(user, name, "uidvalidity")
	if err != nil {
		return 0, err
	}
	return uint32(st["uidvalidity"]), nil
}

// SetUIDValidity changes the UIDVALIDITY of mailbox name of user, as a
// server does after it rebuilt a mailbox: clients must discard what they
// know of its UIDs. The messages stay.
func (s *Server) SetUIDValidity(user, name string, v uint32) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	_, err := s.Doveadm("mailbox", "update", "-u", user, "--uid-validity", strconv.FormatUint(uint64(v), 10), name)
	return err
}

// Flags returns the IMAP flags of each message in mailbox name of user,
// keyed by UID: system flags such as `\Seen` and keywords such as
// `$Forwarded`, in Dovecot's order. \Recent is left out: it depends on
// which session asks.
func (s *Server) Flags(user, name string) (map[uint32][]string, error) {
	if err := s.checkUser(user); err != nil {
		return nil, err
	}
	out, err := s.Doveadm("-f", "tab", "fetch", "-u", user, "uid flags", "mailbox", name, "all")
	if err != nil {
		return nil, err
	}
	flags := map[uint32][]string{}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for k, line := range lines {
		if k == 0 || line == "" {
			continue // the header: "uid\tflags"
		}
		uidText, list, ok := strings.Cut(line, "\t")
		uid, err := strconv.ParseUint(uidText, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("dovetest: doveadm fetch flags: unexpected line %q", line)
		}
		fl := []string{}
		for _, f := range strings.Fields(list) {
			if f != `\Recent` {
				fl = append(fl, f)
			}
		}
		flags[uint32(uid)] = fl
	}
	return flags, nil
}

// SetFlags replaces the flags of message uid in mailbox name of user, as
// another mail client would (IMAP flags: `\Seen`, `\Flagged`, keywords).
// No flags clears them all, keywords included.
func (s *Server) SetFlags(user, name string, uid uint32, flags ...string) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	if err := checkFlags(flags); err != nil {
		return err
	}
	// An empty list ("") clears system flags and keywords alike.
	_, err := s.Doveadm("flags", "replace", "-u", user, strings.Join(flags, " "),
		"mailbox", name, "uid", strconv.FormatUint(uint64(uid), 10))
	return err
}

// Expunge removes the messages with the given UIDs from mailbox name of
// user, as another mail client would.
func (s *Server) Expunge(user, name string, uids ...uint32) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	if len(uids) == 0 {
		return nil
	}
	set := make([]string, len(uids))
	for k, u := range uids {
		set[k] = strconv.FormatUint(uint64(u), 10)
	}
	_, err := s.Doveadm("expunge", "-u", user, "mailbox", name, "uid", strings.Join(set, ","))
	return err
}

func (s *Server) checkUser(name string) error {
	if _, ok := s.user(name); !ok {
		return fmt.Errorf("dovetest: no user %q on this server", name)
	}
	return nil
}

// checkFlags accepts IMAP flags: a system flag (`\Seen`) or a keyword atom.
func checkFlags(flags []string) error {
	for _, f := range flags {
		atom := strings.TrimPrefix(f, `\`)
		if atom == "" || strings.ContainsAny(atom, "(){ %*\"\\]") || strings.ContainsFunc(atom, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return fmt.Errorf("dovetest: %q is not an IMAP flag", f)
		}
	}
	return nil
}
