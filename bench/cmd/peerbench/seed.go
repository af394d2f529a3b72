package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/mailfetch/mailfetch/internal/dovetest"
)

const flagged = `\Flagged`

// seed fills mailbox m on the server and learns what the checks need.
func (b *bench) seed(m *mailbox) error {
	s := b.server
	if m.bigBytes > 0 {
		return s.Seed(m.user, "INBOX", []dovetest.Message{{Raw: bigMessage(m.bigBytes)}})
	}
	for k, user := range m.serverUsers() {
		for i, f := range m.folders {
			if err := s.SeedGenerated(user, f, m.seedOf(k, i), m.perFolder); err != nil {
				return err
			}
		}
	}
	if !slices.ContainsFunc(b.cells, func(c *cell) bool { return c.box == m && c.proto == "imap" }) {
		return nil
	}
	// The IMAP checks count \Flagged messages; the changed phases flag
	// messages that are not flagged yet, changeCount at a time, spread
	// over the folders.
	m.flagged = map[string]int{}
	m.unflagged = map[string][]uint32{}
	m.flaggedTo = map[string]int{}
	for _, user := range m.serverUsers() {
		for _, f := range m.folders {
			fl, err := s.Flags(user, f)
			if err != nil {
				return err
			}
			if len(fl) != m.perFolder {
				return fmt.Errorf("%s %s holds %d messages after seeding, want %d", user, f, len(fl), m.perFolder)
			}
			for _, uid := range sortedUIDs(fl) {
				if slices.Contains(fl[uid], flagged) {
					m.flagged[user]++
				} else if m.accounts == 0 {
					m.unflagged[f] = append(m.unflagged[f], uid)
				}
			}
		}
	}
	return nil
}

// reseed puts the mail of a delete-mode mailbox back after a run: what
// the tool left on the server is expunged, the mailbox seeded again with
// the same messages (new UIDs), and the count checked.
func (b *bench) reseed(m *mailbox) error {
	s := b.server
	for k, user := range m.serverUsers() {
		for i, f := range m.folders {
			if n, err := s.Count(user, f); err != nil {
				return err
			} else if n > 0 {
				if _, err := s.Doveadm("expunge", "-u", user, "mailbox", f, "all"); err != nil {
					return err
				}
			}
			if err := s.SeedGenerated(user, f, m.seedOf(k, i), m.perFolder); err != nil {
				return err
			}
			if n, err := s.Count(user, f); err != nil {
				return err
			} else if n != m.perFolder {
				return fmt.Errorf("%s %s holds %d messages after seeding again, want %d", user, f, n, m.perFolder)
			}
		}
	}
	return nil
}

// serverLeft counts the messages still on the server for every user of m.
func (b *bench) serverLeft(m *mailbox) (int, error) {
	left := 0
	for _, user := range m.serverUsers() {
		for _, f := range m.folders {
			n, err := b.server.Count(user, f)
			if err != nil {
				return 0, err
			}
			left += n
		}
	}
	return left, nil
}

// share is folder i's part of total spread over n folders.
func share(total, n, i int) int {
	k := total / n
	if i < total%n {
		k++
	}
	return k
}

func sortedUIDs(fl map[uint32][]string) []uint32 {
	uids := make([]uint32, 0, len(fl))
	for uid := range fl {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	return uids
}

func uidSet(uids []uint32) string {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(s, ",")
}

// changeServer makes the server differ from what it held as another
// client and new mail would: changeCount new messages and changeCount
// messages newly \Flagged, spread over the folders. step counts the
// changes since the last undo (0 for the first): each step adds mail of
// a seed of its own and flags messages no earlier step flagged, so that
// the changes of several steps add up. It returns how many messages it
// flagged (fewer than changeCount when tiny folders run out of unflagged
// ones), and what the server then holds: messages and \Flagged messages
// in all folders.
func (b *bench) changeServer(m *mailbox, step int) (flaggedNow, messages, nflagged int, err error) {
	s := b.server
	for i, f := range m.folders {
		// A seed of their own, so the new messages are not copies of
		// seeded ones; Seed gives them UIDs above every existing one.
		want := share(changeCount, len(m.folders), i)
		if err := s.SeedGenerated(m.user, f, 1_000_000+int64(step)*10_000+m.seedOf(0, i), want); err != nil {
			return 0, 0, 0, err
		}
		from := m.flaggedTo[f]
		to := min(from+want, len(m.unflagged[f]))
		if to > from {
			if _, err := s.Doveadm("flags", "add", "-u", m.user, flagged, "mailbox", f, "uid", uidSet(m.unflagged[f][from:to])); err != nil {
				return 0, 0, 0, err
			}
		}
		m.flaggedTo[f] = to
		flaggedNow += to - from
	}
	messages, nflagged, err = b.serverCounts(m)
	return flaggedNow, messages, nflagged, err
}

// undoChange puts the server back as seeded after any number of
// changeServer steps: the added messages expunged, the flags removed
// again. It checks the result.
func (b *bench) undoChange(m *mailbox) error {
	s := b.server
	for _, f := range m.folders {
		if to := m.flaggedTo[f]; to > 0 {
			if _, err := s.Doveadm("flags", "remove", "-u", m.user, flagged, "mailbox", f, "uid", uidSet(m.unflagged[f][:to])); err != nil {
				return err
			}
		}
		m.flaggedTo[f] = 0
		fl, err := s.Flags(m.user, f)
		if err != nil {
			return err
		}
		uids := sortedUIDs(fl)
		if len(uids) > m.perFolder {
			// Seeded messages keep their UIDs; the added ones are above.
			if err := s.Expunge(m.user, f, uids[m.perFolder:]...); err != nil {
				return err
			}
		}
	}
	messages, nflagged, err := b.serverCounts(m)
	if err != nil {
		return err
	}
	if messages != m.total() || nflagged != m.flagged[m.user] {
		return fmt.Errorf("%s holds %d messages (%d flagged) after the undo, want %d (%d)", m.user, messages, nflagged, m.total(), m.flagged[m.user])
	}
	return nil
}

func (b *bench) serverCounts(m *mailbox) (messages, nflagged int, err error) {
	for _, f := range m.folders {
		fl, err := b.server.Flags(m.user, f)
		if err != nil {
			return 0, 0, err
		}
		messages += len(fl)
		for _, list := range fl {
			if slices.Contains(list, flagged) {
				nflagged++
			}
		}
	}
	return messages, nflagged, nil
}

// bigMessage returns a message of about size bytes: a short text part and
// a base64 attachment of deterministic random bytes, LF line endings as
// Dovecot stores them.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 4096)
	b.WriteString("From: Big Sender <big@example.org>\n" +
		"To: Benchmark <bench@example.org>\n" +
		"Subject: One big message\n" +
		"Date: Mon, 02 Jun 2025 10:00:00 +0000\n" +
		"Message-ID: <big-1@peerbench.example>\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"peerbench-big\"\n" +
		"\n" +
		"--peerbench-big\n" +
		"Content-Type: text/plain; charset=us-ascii\n" +
		"\n" +
		"The attachment is random.\n" +
		"--peerbench-big\n" +
		"Content-Type: application/octet-stream\n" +
		"Content-Transfer-Encoding: base64\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\n" +
		"\n")
	const trailer = "--peerbench-big--\n"
	rng := rand.NewPCG(7, 7)
	raw := make([]byte, 57) // 57 bytes are one 76-character base64 line
	line := make([]byte, 76)
	for b.Len()+77+len(trailer) <= size {
		for i := 0; i < len(raw); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && i+k < len(raw); k++ {
				raw[i+k] = byte(v >> (8 * k))
			}
		}
		base64.StdEncoding.Encode(line, raw)
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString(trailer)
	return b.Bytes()
}
